"""epochpp._source: the def a compiled function comes from, read from the lines its code spans
(without inspect's tokenizer) — checked against inspect.getsourcelines on awkward layouts."""
import ast
import inspect
import textwrap

import pytest

from epochpp import _source


def deco(f):
    return f


def plain(x):
    return x + 1


def closing_bracket_alone(a, b):
    return (a +
            b
    )


def trailing_string_and_comment(x):
    y = x * 2
    """a string statement
    over lines"""
    # a comment
    return y


@deco
def decorated(x):
    return x


@deco
@deco
def decorated_twice(x):
    return x


def one_line(x): return x * 3


def nested_def(x):
    def inner(y):
        return (y,
                x)
    return inner(x)


def comprehension_last(n):
    return [i
            for i in range(n)
            ]


def ends_with_pass(x):
    if x:
        return 1
    else:
        pass


def tabs_and_continuations(x):
    y = x \
        + 1
    return y


def followed_by_another():
    return 1
def another():  # noqa: E302
    return 2


class Holder:
    def method(self, x):
        return x


@pytest.mark.parametrize("fn", [plain, closing_bracket_alone, trailing_string_and_comment, decorated, decorated_twice,
                                one_line, nested_def, comprehension_last, ends_with_pass, tabs_and_continuations,
                                followed_by_another, Holder.method])
def test_same_def_as_inspect(fn):
    _source._cache.clear()
    node, filename = _source.funcdef(fn)
    lines, first = inspect.getsourcelines(fn)
    want = ast.parse(textwrap.dedent("".join(lines))).body[0]
    ast.increment_lineno(want, first - 1)
    assert ast.dump(node, include_attributes=True) == ast.dump(want, include_attributes=True)
    assert filename == inspect.getsourcefile(fn)


def test_fast_path_is_taken():
    """the inspect-free path gives the def for these (None would mean a fallback to inspect)"""
    for fn in (plain, closing_bracket_alone, decorated_twice, nested_def, comprehension_last):
        assert _source._fast(fn, fn.__code__) is not None, fn.__name__


def test_lambda_is_not_a_def():
    _source._cache.clear()
    f = lambda x: x  # noqa: E731
    with pytest.raises(TypeError, match="def statement"):
        _source.funcdef(f)
