/** `deno task bench`: not built yet; the yardstick is ../shared/bench/run.sh. */
console.error(
  "tsproxy bench: not built yet. Meanwhile: CANDIDATE='deno run -A src/main.ts' CANDIDATE_CWD=. ../shared/bench/run.sh",
);
Deno.exit(2);
