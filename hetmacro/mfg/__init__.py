"""Generic mean-field-game solvers: they work on any compiled :class:`~hetmacro.Game`.

Exact dynamic programming (:mod:`.dp`), recurrent structural policy gradient and its memoryless variant
(:mod:`.rspg`, trained by :mod:`.training` with the networks of :mod:`.policies`), and the stationary
equilibrium of any infinite-horizon game by policy iteration over its discrete actions
(:mod:`.stationary`)."""
