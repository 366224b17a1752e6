"""Comparisons compiled from the settings: a pair of records → one level index per field.

Each comparison's levels are tried in order and the first whose test holds is the pair's level;
:data:`NULL` (-1) means the field is missing on either side and carries no evidence. The tests
are small closures over :class:`~core.matching.features.MatchFeatures`, so a comparison vector
costs a few microseconds.

>>> from core.matching.comparisons import compile_comparisons
>>> from core.matching.settings import default_settings
>>> compiled = compile_comparisons(default_settings())
>>> compiled.names[:3]
('name', 'birth_date', 'sex')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA, Indel, JaroWinkler

from core.matching.features import MatchFeatures, Residence, match_features
from core.matching.settings import ComparisonSpec, ConditionSpec, LevelSpec, MatchSettings, default_settings
from schemas.resident import ResidentRecord

__all__ = ["NULL", "CompiledComparison", "CompiledComparisons", "compile_comparisons", "comparison_vector"]

NULL = -1
"""The level of a comparison whose field is missing on either side."""

Test = Callable[[MatchFeatures, MatchFeatures], bool]
Compare = Callable[[MatchFeatures, MatchFeatures], int]


def _always(a: MatchFeatures, b: MatchFeatures) -> bool:
    return True


def _first_level(tests: Sequence[Test], present: Callable[[MatchFeatures, MatchFeatures], bool]) -> Compare:
    indexed = tuple(enumerate(tests))
    last = len(tests) - 1

    def compare(a: MatchFeatures, b: MatchFeatures) -> int:
        if not present(a, b):
            return NULL
        for index, test in indexed:
            if test(a, b):
                return index
        return last

    return compare


# Names (姓名) ------------------------------------------------------------------------------


def _name_test(level: LevelSpec) -> Test:
    test = _name_test_any_script(level)
    if level.script == "latin":
        return lambda a, b: a.script == "latin" and b.script == "latin" and test(a, b)
    if level.script == "han":
        return lambda a, b: a.script != "latin" and b.script != "latin" and test(a, b)
    return test


def _name_test_any_script(level: LevelSpec) -> Test:
    test = level.test
    if test == "exact":
        return lambda a, b: a.name == b.name
    if test == "same_pinyin":
        return lambda a, b: a.pinyin_key == b.pinyin_key
    if test == "same_tokens_reordered":
        return lambda a, b: a.sorted_tokens == b.sorted_tokens
    if test == "jaro_winkler":
        return _jaro_winkler(float(level.threshold or 1.0))
    if test == "one_character_differs":
        return _one_character_differs
    if test == "token_subset":
        return _token_subset
    if test == "words_jaro_winkler":
        return _words_similar(float(level.threshold or 1.0))
    if test == "one_word_missing":
        return _one_word_missing(float(level.threshold or 1.0))
    if test == "same_given_name":
        return lambda a, b: a.given_name is not None and a.given_name == b.given_name
    if test == "same_surname":
        return lambda a, b: a.surname is not None and a.surname == b.surname
    return _always


def _jaro_winkler(threshold: float) -> Test:
    def similar(a: MatchFeatures, b: MatchFeatures) -> bool:
        if JaroWinkler.similarity(a.pinyin_key or "", b.pinyin_key or "", score_cutoff=threshold) > 0:
            return True
        if a.script != "latin" or b.script != "latin":
            return False
        # Latin names also in sorted word order: "Smith Jonh" against "John Smith".
        x, y = (a.sorted_tokens or "").replace(" ", ""), (b.sorted_tokens or "").replace(" ", "")
        return JaroWinkler.similarity(x, y, score_cutoff=threshold) > 0

    return similar


def _one_character_differs(a: MatchFeatures, b: MatchFeatures) -> bool:
    # Three characters at least: in a two-character name one changed character is a new given name.
    if a.script == "latin" or b.script == "latin" or a.name is None or b.name is None:
        return False
    if max(len(a.name), len(b.name)) < 3:
        return False
    return OSA.distance(a.name, b.name, score_cutoff=1) <= 1


def _token_subset(a: MatchFeatures, b: MatchFeatures) -> bool:
    # Latin names only: a Han name's syllables are a subset of another's by chance (王伟 / 王伟明).
    if a.script != "latin" or b.script != "latin":
        return False
    short, long = (a.tokens, b.tokens) if len(a.tokens) <= len(b.tokens) else (b.tokens, a.tokens)
    return 2 <= len(short) < len(long) and set(short) <= set(long)


def _pairs_up(short: Sequence[str], long: Sequence[str], threshold: float) -> bool:
    """Every word of ``short`` agrees (Jaro-Winkler >= threshold) with its own word of ``long``."""
    if not short:
        return True
    first, rest = short[0], short[1:]
    for index, word in enumerate(long):
        if JaroWinkler.similarity(first, word, score_cutoff=threshold) > 0 and _pairs_up(
            rest, [*long[:index], *long[index + 1 :]], threshold
        ):
            return True
    return False


def _words_similar(threshold: float) -> Test:
    # Word by word, in any order: "neumann amner" / "amber neumann" (a typo and the fields
    # swapped) is far apart as one string but each word is a typo of one of the other's.
    def similar(a: MatchFeatures, b: MatchFeatures) -> bool:
        if a.script != "latin" or b.script != "latin" or len(a.tokens) != len(b.tokens) or len(a.tokens) < 2:
            return False
        return len(a.tokens) <= 4 and _pairs_up(a.tokens, b.tokens, threshold)

    return similar


def _one_word_missing(threshold: float) -> Test:
    # A Latin name written with one word only (the surname or the given name left empty)
    # against the same word, or a typo of it, in a fuller name: "fimeri" / "dale fimeri".
    def missing(a: MatchFeatures, b: MatchFeatures) -> bool:
        if a.script != "latin" or b.script != "latin":
            return False
        short, long = (a.tokens, b.tokens) if len(a.tokens) <= len(b.tokens) else (b.tokens, a.tokens)
        return len(short) == 1 and len(long) >= 2 and _pairs_up(short, long, threshold)

    return missing


def _compile_name(spec: ComparisonSpec) -> Compare:
    return _first_level([_name_test(level) for level in spec.levels], lambda a, b: a.name is not None and b.name is not None)


# Birth date (出生日期) --------------------------------------------------------------------


def _one_digit_or_swap(a: MatchFeatures, b: MatchFeatures) -> bool:
    x, y = a.birth_digits, b.birth_digits
    if x is None or y is None:
        return False
    if OSA.distance(x, y, score_cutoff=1) <= 1:
        return True
    return x[:4] == y[:4] and x[4:6] == y[6:8] and x[6:8] == y[4:6]  # day and month swapped


def _birth_test(level: LevelSpec) -> Test:
    test = level.test
    if test == "exact":
        return lambda a, b: a.birth_digits is not None and a.birth_digits == b.birth_digits
    if test == "one_digit_or_swap":
        return _one_digit_or_swap
    if test == "same_month_when_day_unknown":
        return lambda a, b: (a.birth_digits is None or b.birth_digits is None) and a.birth_month == b.birth_month
    if test == "same_year":
        return lambda a, b: a.birth_year == b.birth_year
    return _always


def _compile_birth(spec: ComparisonSpec) -> Compare:
    return _first_level(
        [_birth_test(level) for level in spec.levels], lambda a, b: a.birth_month is not None and b.birth_month is not None
    )


# Sex ------------------------------------------------------------------------------------------


def _compile_sex(spec: ComparisonSpec) -> Compare:
    tests: list[Test] = [(lambda a, b: a.sex == b.sex) if level.test == "exact" else _always for level in spec.levels]
    return _first_level(tests, lambda a, b: a.sex is not None and b.sex is not None)


# ID number (公民身份号码) as evidence ---------------------------------------------------------


def _id_test(level: LevelSpec) -> Test:
    test = level.test
    if test == "same_valid":
        return lambda a, b: a.valid_id is not None and a.valid_id == b.valid_id
    if test == "different_valid":
        return lambda a, b: a.valid_id is not None and b.valid_id is not None and a.valid_id != b.valid_id
    if test == "within_edits":
        edits = int(level.max_edits or 0)
        return lambda a, b: OSA.distance(a.id_text or "", b.id_text or "", score_cutoff=edits) <= edits
    return _always


def _compile_id(spec: ComparisonSpec) -> Compare:
    return _first_level([_id_test(level) for level in spec.levels], lambda a, b: a.id_text is not None and b.id_text is not None)


# Other identity documents ----------------------------------------------------------------------


def _compile_other_ids(spec: ComparisonSpec) -> Compare:
    tests: list[tuple[str, int]] = [(level.test, int(level.max_edits or 0)) for level in spec.levels]
    last = len(tests) - 1

    def compare(a: MatchFeatures, b: MatchFeatures) -> int:
        if not a.other_ids or not b.other_ids:
            return NULL
        pairs = [(x, y) for kx, x in a.other_ids for ky, y in b.other_ids if kx == ky]
        if not pairs:
            return NULL
        for index, (test, edits) in enumerate(tests):
            if test == "exact" and any(x == y for x, y in pairs):
                return index
            if test == "within_edits" and any(OSA.distance(x, y, score_cutoff=edits) <= edits for x, y in pairs):
                return index
            if test == "else":
                return index
        return last

    return compare


# Residence: household number, flat, phones ----------------------------------------------------


ResidenceCompare = Callable[[Residence, Residence], int]
_RESIDENCE_TESTS = {
    "home_and_phone": 0, "home": 1, "phone": 2, "same_flat": 3, "flat_only": 4, "same_place": 5, "else": 6,
    "similar_text": 7, "similar_text_other_door": 8, "same_numbers": 9, "words_found": 10,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class _LatinAddress:
    """An address written in Latin words, read once: its door number, the rest, words and numbers."""

    text: str
    door: str | None  # a number leading the address; with it left out the first number may be a postcode
    rest: str  # the text without the door number
    words: tuple[str, ...]
    numbers: tuple[str, ...]


@lru_cache(maxsize=1 << 16)
def _latin_address(text: str) -> _LatinAddress:
    first, _, rest = text.partition(" ")
    words = tuple(text.split())
    numbers = tuple(w for w in words if w.isdigit())
    if first.isdigit():
        return _LatinAddress(text, first, rest, words, numbers)
    return _LatinAddress(text, None, text, words, numbers)


def _doors_differ(x: _LatinAddress, y: _LatinAddress) -> bool:
    return x.door is not None and y.door is not None and x.door != y.door


def _similar_text(x: _LatinAddress, y: _LatinAddress, threshold: float) -> bool:
    # Two Latin-script addresses spelt nearly alike (Indel similarity, so a word split in two,
    # a letter typo or a part left out on one side still agree), and never two door numbers:
    # 12 and 14 Smith Street are neighbours, not one home spelt twice.
    return not _doors_differ(x, y) and Indel.normalized_similarity(x.text, y.text, score_cutoff=threshold) > 0


def _similar_text_other_door(x: _LatinAddress, y: _LatinAddress, threshold: float) -> bool:
    # Two door numbers on one street otherwise spelt nearly alike: neighbours, or one home with
    # its door number mistyped. Its own level, so that its weight is estimated, never a shared home.
    return _doors_differ(x, y) and Indel.normalized_similarity(x.rest, y.rest, score_cutoff=threshold) > 0


def _word_agrees(x: str, y: str, threshold: float) -> bool:
    if x == y:
        return True
    if x.isdigit() or y.isdigit():  # a number: one keystroke off (5162 / 5612), never a short one
        return x.isdigit() and y.isdigit() and min(len(x), len(y)) >= 3 and OSA.distance(x, y, score_cutoff=1) <= 1
    return JaroWinkler.similarity(x, y, score_cutoff=threshold) > 0


def _words_found(x: _LatinAddress, y: _LatinAddress, threshold: float) -> bool:
    # Every word of the shorter of two Latin-script addresses agrees with its own word of the
    # longer (typos allowed), in any order: parts left out on one side ("51 hurley street kempsdy
    # 5612" / "51 hurley street lakes retirement estate kempsey 5162"), never two door numbers.
    short, long = (x.words, y.words) if len(x.words) <= len(y.words) else (y.words, x.words)
    if len(short) < 3 or _doors_differ(x, y):
        return False
    free = list(long)
    for word in short:
        found = next((i for i, other in enumerate(free) if _word_agrees(word, other, threshold)), None)
        if found is None:
            return False
        del free[found]
    return True


def _same_numbers(x: _LatinAddress, y: _LatinAddress, threshold: float) -> bool:
    # Every number of two Latin-script addresses agrees (the door number and the postcode, say)
    # while their words are not alike: a street or suburb misspelt beyond recognition, replaced
    # or left out on one side. Two numbers at least: a door number alone is common.
    return len(x.numbers) >= 2 and x.numbers == y.numbers


_LatinTest = Callable[[_LatinAddress, _LatinAddress, float], bool]
_LATIN_TESTS: dict[int, _LatinTest] = {
    7: _similar_text, 8: _similar_text_other_door, 9: _same_numbers, 10: _words_found,
}  # fmt: skip


def _any_latin(test: _LatinTest, a: frozenset[str], b: frozenset[str], threshold: float) -> bool:
    """Whether ``test`` holds for some address of ``a`` against some address of ``b``."""
    return any(test(_latin_address(x), _latin_address(y), threshold) for x in a for y in b)


def compile_residence(spec: ComparisonSpec) -> ResidenceCompare:
    """The residence comparison on :class:`Residence` values (one record's, or a profile's pooled)."""
    plan = tuple((index, _RESIDENCE_TESTS[level.test]) for index, level in enumerate(spec.levels))
    thresholds = {index: float(level.threshold or 1.0) for index, level in enumerate(spec.levels)}

    def compare(a: Residence, b: Residence) -> int:
        both_phones = bool(a.phones) and bool(b.phones)
        if not ((a.households and b.households) or (a.has_address and b.has_address) or both_phones):
            return NULL
        home = not a.households.isdisjoint(b.households) or not a.dwellings.isdisjoint(b.dwellings)
        phone = both_phones and not a.phones.isdisjoint(b.phones)
        for index, test in plan:
            if test == 0:
                holds = home and phone
            elif test == 1:
                holds = home
            elif test == 2:
                holds = phone
            elif test == 3:
                holds = not a.number_flats.isdisjoint(b.number_flats)
            elif test == 4:
                holds = not a.flats.isdisjoint(b.flats) and (not a.places or not b.places)
            elif test == 5:
                holds = not a.places.isdisjoint(b.places)
            elif test in _LATIN_TESTS:
                holds = _any_latin(_LATIN_TESTS[test], a.latin_addresses, b.latin_addresses, thresholds[index])
            else:
                holds = True
            if holds:
                return index
        return plan[-1][0]

    return compare


def _compile_residence(spec: ComparisonSpec) -> Compare:
    compare = compile_residence(spec)
    return lambda a, b: compare(a.residence, b.residence)


_COMPILERS: dict[str, Callable[[ComparisonSpec], Compare]] = {
    "name": _compile_name,
    "birth_date": _compile_birth,
    "sex": _compile_sex,
    "id_number": _compile_id,
    "other_ids": _compile_other_ids,
    "residence": _compile_residence,
}


@dataclass(frozen=True)
class CompiledComparison:
    name: str
    kind: str
    labels: tuple[str, ...]
    compare: Compare

    def level_label(self, level: int) -> str:
        return "null" if level == NULL else self.labels[level]


@dataclass(frozen=True)
class CompiledComparisons:
    """All comparisons of a settings file, ready to run on pairs of features."""

    comparisons: tuple[CompiledComparison, ...]
    context_index: int  # the residence comparison (conditioning.household)
    shared_levels: frozenset[int]  # its levels meaning "the pair shares a home or a phone"
    birth_index: int  # the birth date comparison (conditioning.born_same_day)
    same_birth_levels: frozenset[int]
    residence: ResidenceCompare  # the residence comparison on Residence values (for pooled profiles)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.comparisons)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def vector(self, a: MatchFeatures, b: MatchFeatures) -> tuple[int, ...]:
        return tuple([c.compare(a, b) for c in self.comparisons])

    def stratum(self, vector: Sequence[int]) -> int:
        """The pair's stratum (an index into ``settings.STRATA``): 2 × shares home + born same day."""
        return 2 * (vector[self.context_index] in self.shared_levels) + (vector[self.birth_index] in self.same_birth_levels)


def compile_comparisons(settings: MatchSettings) -> CompiledComparisons:
    compiled = tuple(
        CompiledComparison(name=spec.name, kind=spec.kind, labels=spec.labels, compare=_COMPILERS[spec.kind](spec))
        for spec in settings.comparisons
    )
    names = [c.name for c in compiled]

    def levels(condition: ConditionSpec) -> tuple[int, frozenset[int]]:
        labels = settings.comparison(condition.comparison).labels
        return names.index(condition.comparison), frozenset(labels.index(label) for label in condition.levels)

    context_index, shared = levels(settings.conditioning.household)
    birth_index, same_birth = levels(settings.conditioning.born_same_day)
    residence = compile_residence(settings.comparison(settings.conditioning.household.comparison))
    return CompiledComparisons(compiled, context_index, shared, birth_index, same_birth, residence)


_DEFAULT: list[CompiledComparisons] = []


def comparison_vector(a: ResidentRecord | MatchFeatures, b: ResidentRecord | MatchFeatures) -> tuple[int, ...]:
    """The level of each comparison of the default settings (``NULL`` = -1 when a field is missing).

    Use :meth:`core.matching.model.Matcher.comparison_vector` for other settings.
    """
    if not _DEFAULT:
        _DEFAULT.append(compile_comparisons(default_settings()))
    return _DEFAULT[0].vector(match_features(a), match_features(b))
