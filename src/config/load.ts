/** Entry points of the configuration loader: text or file in, validated Config out. */
import type { Config } from "./types.ts";
import { ConfigError, InvalidValue } from "./error.ts";
import { decodeYamlBytes } from "./yaml_reader.ts";
import { YamlError } from "./yaml_error.ts";
import { type ConfigItem, readConfigItems, yamlSyntaxError } from "./yaml_subset.ts";
import { applyDirective, type PoolDraft } from "./directives.ts";
import { finishConfig } from "./validate.ts";

export { ConfigError };

/** strerror texts for the errors opening a file can give, so messages match nutcracker's. */
const STRERROR: Record<string, string> = {
  ENOENT: "No such file or directory",
  EACCES: "Permission denied",
  ENOTDIR: "Not a directory",
  ELOOP: "Too many levels of symbolic links",
  ENAMETOOLONG: "File name too long",
};

/**
 * nutcracker gives up silently on an empty scalar, and C strings would end at a NUL: both are
 * refused before the directive is looked at, with tsproxy's own explanation.
 */
function checkScalar(text: string, what: string, line: number): void {
  if (text === "") throw new ConfigError("", `conf: ${what} is empty (line ${line})`);
  if (text.includes("\0")) throw new ConfigError("", `conf: ${what} contains a NUL character (line ${line})`);
}

async function readPools(items: ConfigItem[]): Promise<PoolDraft[]> {
  const pools: PoolDraft[] = [];
  for (const item of items) {
    if (item.kind === "pool") {
      checkScalar(item.name, "a pool name", item.line);
      pools.push({ name: item.name, servers: [] });
      continue;
    }
    const pool = pools[pools.length - 1];
    checkScalar(item.key, `a directive name in pool '${pool.name}'`, item.line);
    checkScalar(item.value, `the value of directive "${item.key}" in pool '${pool.name}'`, item.line);
    try {
      await applyDirective(pool, item.key, item.value);
    } catch (e) {
      if (!(e instanceof InvalidValue)) throw e;
      const detail = e.detail === undefined ? "" : `: ${e.detail}`;
      throw new ConfigError(
        `conf: directive "${item.key}" ${e.reason}`,
        `pool '${pool.name}', line ${item.line}, value '${item.value}'${detail}`,
      );
    }
  }
  return pools;
}

/**
 * Parses a configuration text as nutcracker 0.5.0 does (`file` only names it in messages): YAML
 * subset checks, directives, post-validation; listen hosts are resolved. Throws ConfigError.
 */
export async function parseConfig(text: string, file: string): Promise<Config> {
  return finishConfig(await readPools(readConfigItems(text, file)), file);
}

/** Reads and parses a configuration file; a file that cannot be read is a ConfigError too. */
export async function loadConfig(file: string): Promise<Config> {
  return (await readConfigFile(file)).config;
}

/** A configuration read from its file, with the SHA-256 of the file's bytes (hex). */
export interface LoadedConfig {
  config: Config;
  checksum: string;
}

/** loadConfig, also giving the checksum of the very bytes parsed (reloads compare it). */
export async function readConfigFile(file: string): Promise<LoadedConfig> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    const code = (e as { code?: string }).code ?? "";
    if (code === "EISDIR") {
      // fopen() succeeds on a directory; it is libyaml's reader that then fails.
      throw new ConfigError("conf: failed (err 2) to get the next yaml document", `'${file}' is a directory`);
    }
    throw new ConfigError(
      `conf: failed to open configuration '${file}': ${STRERROR[code] ?? (e as Error).message}`,
    );
  }
  let text: string;
  try {
    text = decodeYamlBytes(bytes);
  } catch (e) {
    throw e instanceof YamlError ? yamlSyntaxError(e) : e;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const checksum = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  return { config: await parseConfig(text, file), checksum };
}
