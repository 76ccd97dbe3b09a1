"""The `.clm` language server (`clm lsp`) and the pure parts it is built on.

`index` (names and spans of a spec), `hover`, `completion`, `positions` and `document` know
nothing of the protocol and are tested directly; `server` is the pygls glue. The language
server sits on top of the library, beside the command line: nothing imports it but `cli`.
"""
