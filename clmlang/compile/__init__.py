"""Compile: a checked spec in, an executable policy out.

`compiler` turns the syntax tree into the `policy` (pydantic models, JSON and JSON Schema);
`analysis` runs parse -> check -> compile without raising and is where every tool above
starts; `explanation` evaluates the policy for one customer (`clm explain`). Hands a
`Policy` to the market and the simulator.
"""
