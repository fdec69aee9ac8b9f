"""``make bench``: gisgrid against its peers, measured side by side in one run on the same machine.

Each case runs in its own subprocess so its peak memory (``ru_maxrss``) is its own. Results go to
``benchmarks/results/latest.json`` and a table on stdout; the figures quoted in the docs come from it.
"""
