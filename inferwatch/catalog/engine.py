"""Inference-engine metrics in the engine-independent schema."""

from inferwatch.catalog.spec import ENGINE, HISTOGRAM, MetricSpec, _c, _g, _h

TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60, 120, 300)
ITL_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5)
REQUEST_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800)

ENGINE_UP = _g("inferwatch_engine_up", "1 when the last scrape of this engine target "
               "succeeded.", ENGINE)
ENGINE_KV_CACHE_USAGE = _g("inferwatch_engine_kv_cache_usage_ratio", "Fraction of the KV "
                           "cache in use (capacity-weighted across ranks, never summed).",
                           ENGINE, "ratio")
ENGINE_REQUESTS_WAITING = _g("inferwatch_engine_requests_waiting", "Requests queued in the "
                             "engine scheduler.", ENGINE)
ENGINE_REQUESTS_RUNNING = _g("inferwatch_engine_requests_running", "Requests in the running "
                             "batch.", ENGINE)
ENGINE_TTFT = _h("inferwatch_engine_time_to_first_token_seconds", "Time to first token, "
                 "re-bucketed onto canonical buckets.", TTFT_BUCKETS)
ENGINE_ITL = _h("inferwatch_engine_inter_token_latency_seconds", "Time between output steps, "
                "re-bucketed onto canonical buckets.", ITL_BUCKETS)
ENGINE_REQUEST_DURATION = _h("inferwatch_engine_request_duration_seconds", "End-to-end request "
                             "latency, re-bucketed onto canonical buckets.", REQUEST_BUCKETS)
ENGINE_QUEUE_DURATION = _h("inferwatch_engine_request_queue_duration_seconds", "Time requests "
                           "spent queued, re-bucketed onto canonical buckets.", REQUEST_BUCKETS)
ENGINE_PROMPT_TOKENS = _c("inferwatch_engine_prompt_tokens_total", "Prompt tokens processed.",
                          ENGINE)
ENGINE_GENERATION_TOKENS = _c("inferwatch_engine_generation_tokens_total", "Tokens generated.",
                              ENGINE)
ENGINE_PREEMPTIONS = _c("inferwatch_engine_preemptions_total", "Requests preempted (vLLM) or "
                        "retracted (SGLang).", ENGINE)
ENGINE_REQUESTS_FINISHED = _c("inferwatch_engine_requests_finished_total", "Requests finished, "
                              "by reason (stop, length, abort, error, rejected, other).",
                              ENGINE + ("reason",))

TOKEN_BUCKETS = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)
ENGINE_TARGET = ("engine", "target")

ENGINE_SCRAPE_DURATION = _g("inferwatch_engine_scrape_duration_seconds", "Duration of the last "
                            "scrape of this engine target, fetch, parse and mapping included.",
                            ENGINE, "seconds")
ENGINE_SOURCE_INFO = _g("inferwatch_engine_source_info", "The native metric that fed each "
                        "normalised concept in the last scrape; value is always 1.",
                        ENGINE + ("concept", "source_metric"))
ENGINE_SOURCE_LOST = _g("inferwatch_engine_source_lost", "1 while a concept that had a native "
                        "source earlier has none (a rename or removal in the engine).",
                        ENGINE + ("concept", "source_metric"))
ENGINE_UNMAPPED_FAMILIES = _g("inferwatch_engine_unmapped_families", "Native metric families "
                              "of the last scrape that no mapping knows (new or renamed "
                              "metrics).", ENGINE_TARGET)
ENGINE_SCRAPE_LIMIT_EXCEEDED = _c("inferwatch_engine_scrape_limit_exceeded_total", "Scrapes "
                                  "of this engine target refused for breaking a limit "
                                  "(sample_limit, label_limit, label_name_length_limit, "
                                  "label_value_length_limit); the target is down meanwhile.",
                                  ("target", "limit"))
ENGINE_REQUESTS_CAPACITY = _g("inferwatch_engine_requests_capacity", "Most requests the engine "
                              "runs at once (max batch size or slots).", ENGINE)
ENGINE_KV_CACHE_CAPACITY = _g("inferwatch_engine_kv_cache_capacity_tokens", "Allocatable KV "
                              "cache capacity in tokens, summed across ranks.", ENGINE)
ENGINE_BATCH_MAX_TOKENS = _g("inferwatch_engine_batch_max_tokens", "Token budget of the "
                             "current batch.", ENGINE)
ENGINE_PROMPT_CACHED_TOKENS = _c("inferwatch_engine_prompt_cached_tokens_total", "Prompt tokens "
                                 "served from the prefix cache.", ENGINE)
ENGINE_PREFIX_QUERIED_TOKENS = _c("inferwatch_engine_prefix_cache_queried_tokens_total",
                                  "Prompt tokens looked up in the prefix cache.", ENGINE)
ENGINE_PREFIX_HIT_TOKENS = _c("inferwatch_engine_prefix_cache_hit_tokens_total", "Prompt "
                              "tokens found in the prefix cache.", ENGINE)
ENGINE_PREFIX_HIT_RATIO = _g("inferwatch_engine_prefix_cache_hit_ratio", "Prefix-cache hit "
                             "ratio as the engine computes it (only where it has no counters).",
                             ENGINE, "ratio")
ENGINE_TPOT = _h("inferwatch_engine_time_per_output_token_seconds", "Per-request mean time per "
                 "output token, re-bucketed onto canonical buckets.", ITL_BUCKETS)
ENGINE_REQUEST_PROMPT_TOKENS = MetricSpec(
    "inferwatch_engine_request_prompt_tokens", HISTOGRAM, "Prompt length per request, "
    "re-bucketed onto canonical buckets.", ENGINE, "", TOKEN_BUCKETS)
ENGINE_REQUEST_GENERATION_TOKENS = MetricSpec(
    "inferwatch_engine_request_generation_tokens", HISTOGRAM, "Generated tokens per request, "
    "re-bucketed onto canonical buckets.", ENGINE, "", TOKEN_BUCKETS)
ENGINE_SLEEP_STATE = _g("inferwatch_engine_sleep_state", "Engine ranks in each sleep state "
                        "(awake, weights_offloaded, discard_all): asleep is not idle.",
                        ENGINE + ("state",))
ENGINE_WAITING_BY_REASON = _g("inferwatch_engine_requests_waiting_by_reason", "Requests queued, "
                              "by why they wait (capacity, deferred).", ENGINE + ("reason",))
ENGINE_LORA_ADAPTERS = _g("inferwatch_engine_lora_adapters", "LoRA adapters with requests "
                          "running or waiting, by state.", ENGINE + ("state",))
ENGINE_LORA_ADAPTERS_MAX = _g("inferwatch_engine_lora_adapters_max", "Most LoRA adapters held "
                              "at once (max_loras).", ENGINE)
ENGINE_SPEC_DRAFT_TOKENS = _c("inferwatch_engine_spec_decode_draft_tokens_total", "Tokens "
                              "proposed by speculative decoding.", ENGINE)
ENGINE_SPEC_ACCEPTED_TOKENS = _c("inferwatch_engine_spec_decode_accepted_tokens_total", "Draft "
                                 "tokens accepted by the target model.", ENGINE)
ENGINE_SPEC_ACCEPT_LENGTH = _g("inferwatch_engine_spec_decode_accept_length", "Mean tokens "
                               "accepted per speculative step as the engine computes it.", ENGINE)
ENGINE_WAITING_BY_QUEUE = _g("inferwatch_engine_requests_waiting_by_queue", "Requests waiting, "
                             "by queue: the scheduler's and, in a disaggregated deployment, "
                             "prefill_prealloc (prefill_bootstrap in newer SGLang), "
                             "prefill_inflight, decode_prealloc, decode_transfer (all counted "
                             "in requests_waiting).",
                             ENGINE + ("queue",))
ENGINE_KV_TRANSFER_BYTES = _c("inferwatch_engine_kv_transfer_bytes_total", "KV-cache bytes "
                              "moved between prefill and decode engines.", ENGINE)
ENGINE_KV_TRANSFER_DURATION = _h("inferwatch_engine_kv_transfer_duration_seconds", "Duration "
                                 "of each KV-cache transfer, re-bucketed onto canonical "
                                 "buckets.", ITL_BUCKETS)
ENGINE_KV_TRANSFER_LATENCY = _g("inferwatch_engine_kv_transfer_latency_seconds", "Latency of "
                                "the latest KV-cache transfers as the engine averages it "
                                "(where it has no histogram).", ENGINE, "seconds")
ENGINE_KV_TRANSFER_SPEED = _g("inferwatch_engine_kv_transfer_speed_bytes_per_second", "Speed "
                              "of KV-cache transfers as the engine averages it (its latest "
                              "transfers, or a speed histogram's mean since start).", ENGINE)
ENGINE_KV_TRANSFER_FAILURES = _c("inferwatch_engine_kv_transfer_failures_total", "KV-cache "
                                 "transfers that failed, by stage (transfer, bootstrap, "
                                 "notification, expired).", ENGINE + ("reason",))
ENGINE_KV_HOST_USAGE = _g("inferwatch_engine_kv_cache_host_usage_ratio", "Fraction of the "
                          "host (offload) tier of the KV cache in use.", ENGINE, "ratio")
ENGINE_EXTERNAL_QUERIED_TOKENS = _c("inferwatch_engine_external_prefix_cache_queried_tokens_"
                                    "total", "Prompt tokens looked up in an external (KV "
                                    "connector or offload) prefix cache.", ENGINE)
ENGINE_EXTERNAL_HIT_TOKENS = _c("inferwatch_engine_external_prefix_cache_hit_tokens_total",
                                "Prompt tokens found in an external (KV connector or offload) "
                                "prefix cache.", ENGINE)
MODEL_FACTS = ("dtype", "quantization", "kv_cache_dtype", "tensor_parallel_size",
               "pipeline_parallel_size", "max_model_len", "block_size")
ENGINE_MODEL_INFO = _g("inferwatch_engine_model_info", "What the engine says of the model it "
                       "serves (from its config-info metrics and info endpoints); a label the "
                       "engine does not say is empty; value is always 1.", ENGINE + MODEL_FACTS)
ENGINE_INFO = _g("inferwatch_engine_info", "The engine's version as it says it (vLLM /version, "
                 "TGI /info, SGLang /get_server_info, llama.cpp /props build_info); value is "
                 "always 1.", ENGINE + ("version",))
ENGINE_INFO_UP = _g("inferwatch_engine_info_up", "1 when the last fetch of this target's info "
                    "endpoints succeeded (fetched on their own slow interval).", ENGINE_TARGET)
ENGINE_INFO_ERRORS = _c("inferwatch_engine_info_errors_total", "Failed fetches of this "
                        "target's info endpoints (timeout, HTTP error, body cap, invalid JSON).",
                        ENGINE_TARGET)
