"""L4 procedural memory: skills and policies written in YAML, validated, versioned, hot-reloaded.

A bad file is reported with its path, the line (YAML syntax) or the field at fault, and the other
files still load. Each skill and policy carries a version, a changelog and may be deprecated
(loaded and reported, never selected or enforced); when the folder is a git repository,
`file_history` lists the commits behind a file. `ProceduralMemory.current()` reloads whenever a
file changed, so an edit applies from the next turn. Contradictions are in `Procedures.conflicts`.
At start-up `ProceduralMemory.require_loadable()` raises a DefinitionError listing every file that
does not load (and every policy another file's name leaves unenforced): fail loudly, never open.
"""

from framework.memory.procedural.history import Commit, file_history
from framework.memory.procedural.loading import Procedures, load_procedures
from framework.memory.procedural.reloading import ProceduralMemory
from framework.memory.procedural.schema import SCHEMAS, Policy, PolicyExemption, Skill, json_schema

__all__ = [
    "SCHEMAS",
    "Commit",
    "Policy",
    "PolicyExemption",
    "ProceduralMemory",
    "Procedures",
    "Skill",
    "file_history",
    "json_schema",
    "load_procedures",
]
