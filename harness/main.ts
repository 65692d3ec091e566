/** `deno task harness`: the failure-injection scenarios are not written yet. */
console.error(
  "tsproxy harness: the scenario runner is not built yet (fake backends with fault injection are in harness/;" +
    " the failure scenarios run as tests: deno task test)",
);
Deno.exit(2);
