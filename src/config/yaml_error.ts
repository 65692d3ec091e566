/** Errors of the libyaml-compatible YAML layer, numbered as libyaml numbers them. */

/** libyaml's `yaml_error_type_t` values: nutcracker prints them as `(err N)`. */
export enum YamlErrorKind {
  Reader = 2,
  Scanner = 3,
  Parser = 4,
  Composer = 5,
}

/** A position in the YAML text: 0-based line and column, as libyaml counts them (characters). */
export interface Mark {
  line: number;
  column: number;
}

/** A YAML syntax error: the libyaml error kind plus what went wrong and where. */
export class YamlError extends Error {
  constructor(readonly kind: YamlErrorKind, readonly problem: string, readonly mark: Mark) {
    super(`${problem} at line ${mark.line + 1}, column ${mark.column + 1}`);
    this.name = "YamlError";
  }
}
