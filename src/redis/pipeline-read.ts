/** What `pipeline.exec()` resolves with: one `[error, reply]` per queued command. */
export type PipelineResults = ReadonlyArray<[error: Error | null, reply: unknown]> | null;

/** The reply of the command queued at `index`; its error, if it failed, is thrown. */
export function pipelineReply(results: PipelineResults, index: number): unknown {
  const entry = results?.[index];
  if (entry === undefined) {
    throw new Error(`pipeline has no reply at ${index}`);
  }
  const [error, reply] = entry;
  if (error) {
    throw error;
  }
  return reply;
}
