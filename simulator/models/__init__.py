"""Transformer blocks from model configs: `attnsim run --model CONFIG.json` and a workload's `model:`.

config.py reads a Hugging Face-style config.json into a ModelShape; block.py turns a shape and a
step (prefill or decode, context, tokens, batch) into workload layers; workload.py builds the
Workload; report.py adds the stack's total and the per-token (decode) or per-sequence (prefill)
rows. Bundled configs live in the repository's models/ folder.
"""
