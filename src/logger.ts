import pino, { type Logger } from "pino";

/**
 * The root logger: JSON lines, with credentials redacted wherever they
 * appear (bearer tokens, `authorization` headers, admission passes, keys).
 * Calls never log request bodies; the redaction is the second line of defence.
 * `destination` defaults to stdout.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: "boxoffice" },
    redact: {
      paths: [
        "authorization",
        "*.authorization",
        "*.headers.authorization",
        "pass",
        "*.pass",
        "*.*.pass",
        "token",
        "*.token",
        "authTokens",
        "passKeys",
        "redisUrl",
        "*.password",
      ],
      censor: "[redacted]",
    },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
