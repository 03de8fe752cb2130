import { runApiBench } from './api.bench';
import { runEdgeBench } from './edge.bench';
import { runFailoverBench } from './failover.bench';
import { runPrivacyBench } from './privacy.bench';
import { runReplicationBench } from './replication.bench';
import { writeSection } from './report';

/** `npm run bench` runs every benchmark; `npm run bench -- api` only the named ones. */
const BENCHES: Record<string, { title: string; run: () => Promise<{ markdown: string }> }> = {
  api: { title: 'Regional API (issue 2)', run: () => runApiBench() },
  replication: { title: 'Global replication (issue 3)', run: () => runReplicationBench() },
  edge: { title: 'Edge router (issue 4)', run: () => runEdgeBench() },
  failover: { title: 'Failover (issue 4)', run: () => runFailoverBench() },
  privacy: { title: 'Privacy and auth (issue 5)', run: () => runPrivacyBench() },
  web: { title: 'Web app (issue 6)', run: async () => (await import('./web')).runWebBench() },
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !(w in BENCHES));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark: ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  for (const name of wanted.length > 0 ? wanted : Object.keys(BENCHES)) {
    const bench = BENCHES[name]!;
    console.log(`\n== ${name}`);
    const { markdown } = await bench.run();
    console.log(markdown);
    await writeSection(bench.title, markdown);
    console.log(`written to docs/benchmarks.md (${bench.title})`);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
