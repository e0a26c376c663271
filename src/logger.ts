import pino, { type Logger } from "pino";

/** The root logger: JSON lines, with credentials redacted wherever they appear. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "boxoffice" },
    redact: {
      paths: ["authorization", "*.authorization", "headers.authorization", "redisUrl", "*.password"],
      censor: "[redacted]",
    },
  });
}
