"""Language: `.clm` text in, a syntax tree with names and typed conditions out.

`grammar/clm.lark` -> `parser` (with `builder`, `builder_terms`, `syntax_errors`) -> `syntax`
(the tree, every node with its source span) -> `loader` (a spec with the files it `use`s) ->
`symbols` (the names it declares) -> `conditions` (conditions lowered to a typed, vectorised
IR, over the fields and functions of `vocabulary`). `formatter` prints a tree back in its
canonical layout; `keywords` and `highlight` serve editors. Hands a `Spec` and its
`Symbols` to the checker.
"""
