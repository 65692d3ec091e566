/** The errors of configuration loading. */

/** `ncMessage (context)`, or the context alone where nutcracker has no message. */
function oneLine(ncMessage: string, context?: string): string {
  if (context === undefined) return ncMessage;
  return ncMessage === "" ? context : `${ncMessage} (${context})`;
}

/**
 * nutcracker's error line, e.g. `conf: directive "hash" is not a valid hash`, plus tsproxy's context.
 * `message` is one line: `ncMessage (context)`. Where nutcracker fails without logging a reason,
 * `ncMessage` is empty and `message` is tsproxy's explanation (the context) alone.
 */
export class ConfigError extends Error {
  constructor(readonly ncMessage: string, readonly context?: string) {
    super(oneLine(ncMessage, context));
    this.name = "ConfigError";
  }
}

/**
 * A directive value nutcracker rejects: `reason` completes `conf: directive "<key>" ...`, `detail`
 * is what nutcracker logs on an extra line (address resolution failures).
 */
export class InvalidValue extends Error {
  constructor(readonly reason: string, readonly detail?: string) {
    super(reason);
    this.name = "InvalidValue";
  }
}
