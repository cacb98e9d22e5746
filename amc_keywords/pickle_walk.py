"""The opcode walk of an id map's pickle: what may reach the unpickler, decided without
building anything.

Input
    The bytes of a pickle that should hold a ``{image name: id}`` dict, and its path for
    messages.
Output
    Nothing, or an :class:`~amc_keywords.errors.InputError` naming the file and what it holds:
    :func:`check_opcodes` admits only the opcodes of plain data (strings, integers, dicts,
    lists, memo), and of the one call Python 3 writes for a ``bytes`` key at protocols 0 to 2
    (``_codecs.encode(text, "latin1")``), in exactly that form; it refuses a memo index
    beyond what the file could fill and marks nested too deeply. :func:`not_a_pickle` names a
    gzipped or JSON map. :func:`latin1_bytes` is the one callable the unpickler
    (:mod:`amc_keywords.idmap`) may give for that call.
"""
import pickle
import pickletools
import re

from .errors import InputError, quoted

MAX_DEPTH = 32
# The opcodes of plain data: every one a pickled {str: int} dict can hold, at any protocol,
# and the other plain values (lists, floats, None...), which the type checks then refuse with
# a clearer message. Any other opcode (a global, a call, a persistent id, a tuple, which as a
# key would be hashed recursively) is refused before the unpickler sees the file.
_MAP_OPCODES = {
    "PROTO", "FRAME", "STOP", "MARK", "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS",
    "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
    "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4",
    "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE", "GET", "BINGET", "LONG_BINGET",
    "EMPTY_LIST", "LIST", "APPEND", "APPENDS", "NONE", "NEWTRUE", "NEWFALSE", "FLOAT",
    "BINFLOAT", "POP", "POP_MARK", "DUP"}
_MEMO_OPCODES = {"PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET"}


# How Python 3 pickles a bytes key at protocols 0 to 2: ``_codecs.encode(text, "latin1")``,
# a GLOBAL, a tuple of two strings and a REDUCE. This one call is admitted, and nothing else
# that calls: the walk follows what is on the stack (:class:`_Walk`), and the
# unpickler's one global is :func:`latin1_bytes`, not ``_codecs.encode`` itself.
BYTES_CALL = "_codecs encode"
_BYTES_OPCODES = {"GLOBAL", "TUPLE", "TUPLE2", "REDUCE"}
_TEXT_OPCODES = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE",
                 "SHORT_BINUNICODE", "BINUNICODE8"}
_CALL, _ARGS = object(), object()  # on the walk's stack: the bytes call, its arguments
# The one-line fix for a map written the ordinary Python 3 way.
FIX = "pickle.dump({k: int(v) for k, v in m.items()}, f, protocol=2)"


def latin1_bytes(text, encoding):
    """The one callable a map may ask for, as ``_codecs.encode``: bytes from their latin-1
    text, exactly as pickle writes them; any other argument is refused."""
    if type(text) is not str or encoding != "latin1":
        raise pickle.UnpicklingError("it calls _codecs.encode other than as pickle writes "
                                     "bytes; only a plain {name: id} dict is allowed")
    return text.encode("latin-1")


def _refusal(path, what):
    return InputError(f"{path}: not a readable {{image name: id}} pickle: it {what}; only a "
                      f"plain {{name: id}} dict is allowed (write one: {FIX})")


def _holds(module_name):
    """What a global a map asks for says the file holds, in the user's words."""
    asks = f"asks for {quoted(module_name.replace(' ', '.'))}"
    if module_name.startswith("numpy"):
        return f"{asks}: it holds numpy values (such as numpy.int64 ids)"
    if module_name in ("collections OrderedDict", "collections.OrderedDict"):
        return "holds an OrderedDict"
    return f"{asks}, which no {{name: id}} dict needs"


def _effect(opcode):
    """``(uses a mark, items popped besides, marks pushed, items pushed)`` of an opcode."""
    before, after = opcode.stack_before, opcode.stack_after
    mark = pickletools.markobject
    uses_mark = mark in before
    popped = before.index(mark) if uses_mark else len(before)
    return uses_mark, popped, after.count(mark), len(after) - after.count(mark)


_EFFECTS = {opcode.name: _effect(opcode) for opcode in pickletools.opcodes}
_PUTS = {"PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"}
_GETS = {"GET", "BINGET", "LONG_BINGET"}


class _Walk:
    """What is on the unpickler's stack, opcode by opcode, without building it: a string's
    text, :data:`_CALL` for the admitted global, :data:`_ARGS` for its ``(text, "latin1")``
    arguments, None for anything else; and where the marks are. Refuses the bytes call in
    any other form (:meth:`step`)."""

    def __init__(self, path):
        self.path, self.stack, self.marks, self.memo = path, [], [], {}

    def _pop_mark(self):
        at = self.marks.pop()
        items = self.stack[at:]
        del self.stack[at:]
        return items

    def _pop(self, n):
        if n > len(self.stack) - (self.marks[-1] if self.marks else 0):
            raise IndexError("an opcode takes more than the stack holds")
        items = self.stack[len(self.stack) - n:]
        del self.stack[len(self.stack) - n:]
        return items

    def step(self, name, arg, pos):
        stack = self.stack
        if name in _TEXT_OPCODES:
            stack.append(arg)
        elif name in _PUTS:
            self.memo[len(self.memo) if name == "MEMOIZE" else arg] = stack[-1]
        elif name in _GETS:
            stack.append(self.memo.get(arg))
        elif name == "DUP":
            stack.append(stack[-1])
        elif name == "GLOBAL":
            if arg != BYTES_CALL:
                raise _refusal(self.path, _holds(arg))
            stack.append(_CALL)
        elif name in ("TUPLE", "TUPLE2"):
            items = self._pop_mark() if name == "TUPLE" else self._pop(2)
            if len(items) != 2 or not isinstance(items[0], str) or items[1] != "latin1":
                raise _refusal(self.path, f"builds a tuple at byte {pos}, which no "
                                          "{name: id} dict needs")
            stack.append(_ARGS)
        elif name == "REDUCE":
            call, args = self._pop(2)
            if call is not _CALL or args is not _ARGS:
                raise _refusal(self.path, f"calls something at byte {pos}, other than as "
                                          "pickle writes bytes")
            stack.append(None)
        else:
            uses_mark, popped, marks, pushed = _EFFECTS[name]
            items = self._pop_mark() if uses_mark else []
            items += self._pop(popped)
            if _CALL in items or _ARGS in items:
                raise _refusal(self.path, f"uses what pickle writes for bytes otherwise, at "
                                          f"byte {pos}")
            self.marks.extend([len(stack)] * marks)
            stack.extend([None] * pushed)


def check_opcodes(data, path, walk=None):
    """Walk the pickle's opcodes without building anything, and refuse what would make the
    unpickler allocate far more than the file holds: a memo index beyond what a file of this
    size could fill (the unpickler sizes its memo table to the index), or nesting deeper than
    a small limit; and any opcode a ``{name: id}`` dict has no use for (whatever calls,
    imports or builds other objects), but for the one call pickle writes for bytes keys at
    protocols 0 to 2, in exactly that form. Opcode arguments are read within the file, so a
    length beyond it is refused here too.

    The stack is followed (``walk``, a :class:`_Walk`) only on a second pass, when the first
    found an opcode of that call or a refusal to explain: a map of ``str`` keys, as Python 3
    writes one, takes a single plain pass."""
    depth = 0  # marks open: a {name: id} dict needs one
    try:
        for opcode, arg, pos in pickletools.genops(data):
            name = opcode.name
            if name not in _MAP_OPCODES:
                if walk is None:  # say why, or check the call's form, from the stack
                    check_opcodes(data, path, _Walk(path))
                    return
                if name not in _BYTES_OPCODES:
                    raise _refusal(path, _refused_opcode(name, arg, pos, walk.stack))
            if name in _MEMO_OPCODES and int(arg) > len(data):
                raise InputError(f"{path}: not a readable {{image name: id}} pickle: memo "
                                 f"index {arg} at byte {pos} is beyond what a {len(data)}-byte "
                                 "file could fill")
            if name == "MARK":
                depth += 1
                if depth > MAX_DEPTH:
                    raise InputError(f"{path}: not a readable {{image name: id}} pickle: "
                                     f"nested deeper than {MAX_DEPTH} at byte {pos}")
            elif pickletools.markobject in opcode.stack_before:
                depth -= 1
            if walk is not None:
                walk.step(name, arg, pos)
    except (ValueError, TypeError, UnicodeDecodeError, OverflowError, IndexError) as exc:
        raise InputError(f"{path}: not a readable {{image name: id}} pickle: "
                         f"{in_plain_words(exc)}") from None


def in_plain_words(exc):
    """What the pickle module's error means for a map file, and what to do; the refusals
    of the map's unpickler are already in the user's words."""
    text = str(exc)
    if isinstance(exc, pickle.UnpicklingError) and "allowed" in text:
        return text[:160]
    if isinstance(exc, EOFError) or any(cut in text for cut in (
            "truncated", "exhausted", "remain", "not enough data")):
        return "the file ends before the pickle does (cut short); copy or download it again"
    unknown = re.search(r"position (\d+), opcode (b'.*?') unknown", text)
    where = f" (byte {unknown.group(1)} is {unknown.group(2)})" if unknown else ""
    return (f"the file is not a pickle{where}, or is damaged; expected the pickled "
            "{image name: id} dict of the dataset")


def _refused_opcode(name, arg, pos, stack):
    """What an opcode no ``{name: id}`` dict needs says the file holds."""
    if name == "STACK_GLOBAL" and len(stack) >= 2 and all(isinstance(t, str)
                                                          for t in stack[-2:]):
        return _holds(" ".join(stack[-2:]))
    if name == "INST" and isinstance(arg, str):
        return _holds(arg)
    return f"uses opcode {name} at byte {pos}, which no {{name: id}} dict needs"


def not_a_pickle(data, path):
    """Refuse, saying what it is, a map that is gzip-compressed or JSON (never a pickle)."""
    if data[:2] == b"\x1f\x8b":
        raise InputError(f"{path}: a gzip-compressed file, not a pickle: decompress it "
                         "(gunzip), or write the map as a plain {name: id} dict with "
                         f"{FIX}")
    if data.lstrip()[:1] in (b"{", b"["):
        raise InputError(f"{path}: JSON text, not a pickle: write the map as a plain "
                         f"{{name: id}} dict with {FIX} (m: the JSON object)")
