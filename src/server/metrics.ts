/**
 * Server metrics in the Prometheus text exposition format (version 0.0.4): request counts
 * by route and status, prompt and completion tokens, queue depth and in-flight requests,
 * and histograms of request latency and time to first token. One object per server, no
 * global state.
 */

/** Bucket upper bounds in seconds (Prometheus' default latency buckets, plus long generations). */
const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

class Histogram {
  readonly counts = new Array<number>(buckets.length).fill(0);
  count = 0;
  sum = 0;

  observe(seconds: number): void {
    this.count++;
    this.sum += seconds;
    buckets.forEach((bound, i) => {
      if (seconds <= bound) this.counts[i]!++;
    });
  }

  render(name: string, labels: string): string[] {
    const sep = labels === '' ? '' : ',';
    return [
      ...buckets.map((bound, i) => `${name}_bucket{${labels}${sep}le="${bound}"} ${this.counts[i]}`),
      `${name}_bucket{${labels}${sep}le="+Inf"} ${this.count}`,
      `${name}_sum${labels === '' ? '' : `{${labels}}`} ${this.sum}`,
      `${name}_count${labels === '' ? '' : `{${labels}}`} ${this.count}`,
    ];
  }
}

export class Metrics {
  readonly #requests = new Map<string, number>();
  readonly #latency = new Map<string, Histogram>();
  readonly #ttft = new Histogram();
  promptTokens = 0;
  completionTokens = 0;

  /** One finished request of `route` with `status`, that took `seconds`. */
  request(route: string, status: number, seconds: number): void {
    const key = `route="${route}",status="${status}"`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    let histogram = this.#latency.get(route);
    if (histogram === undefined) this.#latency.set(route, (histogram = new Histogram()));
    histogram.observe(seconds);
  }

  firstToken(seconds: number): void {
    this.#ttft.observe(seconds);
  }

  tokens(prompt: number, completion: number): void {
    this.promptTokens += prompt;
    this.completionTokens += completion;
  }

  /** The exposition text; gauges are read now from `gauges`. */
  render(gauges: { readonly queued: number; readonly inFlight: number; readonly live: number }): string {
    const lines = [
      '# HELP lmforge_requests_total HTTP requests answered, by route and status.',
      '# TYPE lmforge_requests_total counter',
      ...[...this.#requests].map(([labels, n]) => `lmforge_requests_total{${labels}} ${n}`),
      '# HELP lmforge_prompt_tokens_total Prompt tokens processed.',
      '# TYPE lmforge_prompt_tokens_total counter',
      `lmforge_prompt_tokens_total ${this.promptTokens}`,
      '# HELP lmforge_completion_tokens_total Tokens generated.',
      '# TYPE lmforge_completion_tokens_total counter',
      `lmforge_completion_tokens_total ${this.completionTokens}`,
      '# HELP lmforge_queue_depth Requests waiting for a generation slot.',
      '# TYPE lmforge_queue_depth gauge',
      `lmforge_queue_depth ${gauges.queued}`,
      '# HELP lmforge_requests_in_flight Requests being answered.',
      '# TYPE lmforge_requests_in_flight gauge',
      `lmforge_requests_in_flight ${gauges.inFlight}`,
      '# HELP lmforge_batch_sequences Sequences in the batched decode loops.',
      '# TYPE lmforge_batch_sequences gauge',
      `lmforge_batch_sequences ${gauges.live}`,
      '# HELP lmforge_request_duration_seconds Time to answer a request, by route.',
      '# TYPE lmforge_request_duration_seconds histogram',
      ...[...this.#latency].flatMap(([route, h]) =>
        h.render('lmforge_request_duration_seconds', `route="${route}"`),
      ),
      '# HELP lmforge_time_to_first_token_seconds Time from a request to its first generated token.',
      '# TYPE lmforge_time_to_first_token_seconds histogram',
      ...this.#ttft.render('lmforge_time_to_first_token_seconds', ''),
      '# HELP process_resident_memory_bytes Resident memory size in bytes.',
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${process.memoryUsage.rss()}`,
    ];
    return lines.join('\n') + '\n';
  }
}
