import assert from "assert";
import {
  memcacheFragments,
  memcacheHashTag,
  redisFragments,
  redisHashTag,
  ROUTING_CHECKS,
} from "../../../harness/scenarios/routing.ts";
import { needs } from "../../support/needs.ts";

for (const c of ROUTING_CHECKS) {
  Deno.test({
    name: `routing check behind tsproxy: ${c.name}`,
    ...needs(...c.needs),
    fn: () => c.run("tsproxy"),
  });
}

Deno.test("the routing checks play the same behind nutcracker 0.5.0", needs("nutcracker"), async () => {
  await memcacheHashTag("nutcracker", "fake");
  await memcacheFragments("nutcracker");
  await redisHashTag("nutcracker", "fake");
  await redisFragments("nutcracker");
});

// A pool without the hash tag hashes whole keys: the check must notice and name a misplaced key.
const UNTAGGED = ["hash: fnv1a_64", "distribution: ketama"];

Deno.test("the memcache hash-tag check fails on a pool without hash_tag, naming a misplaced key", async () => {
  await assert.rejects(
    () => memcacheHashTag("tsproxy", "fake", UNTAGGED),
    /^Error: \{user:\d\}:\w+ is on \[s\d\], its tag hashes to s\d$/,
  );
});

Deno.test("the redis hash-tag check fails on a pool without hash_tag, naming a misplaced key", async () => {
  await assert.rejects(
    () => redisHashTag("tsproxy", "fake", UNTAGGED),
    /^Error: \{user:\d\}:\w+ is on \[s\d\], its tag hashes to s\d$/,
  );
});
