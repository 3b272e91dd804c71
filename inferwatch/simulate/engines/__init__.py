"""Simulated LLM inference engines for demos and tests.

`inferwatch simulate-engine --kind KIND` serves the /metrics page of one engine kind (vLLM V1
and V0, SGLang, TGI, Triton core and its TensorRT-LLM backend, trtllm-serve, llama.cpp,
LMDeploy, NIM, Ray Serve LLM) as the real engine writes it, driven by one deterministic load
model (`load.py`) and a scenario (`scenarios.py`). `sim.Simulation` renders a body for a kind
at a simulated time; `app.make_app` serves it over HTTP.
"""
