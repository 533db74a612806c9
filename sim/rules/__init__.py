"""The policy language and its back ends.

``expr`` parses ``when`` expressions into an intermediate form checked against a
``vocabulary``; ``numpy_backend`` compiles that form to vectorised masks.
"""

from sim.rules.expr import fields_used, parse, to_text
from sim.rules.numpy_backend import category_code, compile_mask
from sim.rules.vocabulary import CONTEXTS, GROUP, MEMBER, PROSPECT, Vocabulary

__all__ = [
    "parse",
    "to_text",
    "fields_used",
    "compile_mask",
    "category_code",
    "CONTEXTS",
    "GROUP",
    "MEMBER",
    "PROSPECT",
    "Vocabulary",
]
