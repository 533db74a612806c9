"""The policy language and its back ends.

``expr`` parses ``when`` expressions into an intermediate form checked against a
``vocabulary``; ``numpy_backend`` compiles that form to vectorised masks.
"""

from .expr import parse, to_text, fields_used
from .numpy_backend import compile_mask, category_code
from .vocabulary import CONTEXTS, GROUP, MEMBER, PROSPECT, Vocabulary

__all__ = ["parse", "to_text", "fields_used", "compile_mask", "category_code",
           "CONTEXTS", "GROUP", "MEMBER", "PROSPECT", "Vocabulary"]
