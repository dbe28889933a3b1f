"""Which writing systems a name may mix: Unicode's "highly restrictive" level (UTS 39,
section 5), so that `mеrchant` with a Cyrillic е cannot pass for `merchant`.

A string is highly restrictive when one script covers every character (its resolved
script set is not empty), or when it is Latin with Japanese (Han, Hiragana, Katakana),
Chinese (Han, Bopomofo) or Korean (Han, Hangul). Characters whose script is Common or
Inherited alone (digits, punctuation, most combining marks) go with any script; a
character used by several scripts (its Script_Extensions) goes with each of them.

The Script_Extensions property comes from `unicodedataplus` (the standard library's
unicodedata has no script property): no table of code points is kept here.
"""

import unicodedataplus

# Script_Extensions values that mean "any script".
_ANY = frozenset({"Zyyy", "Zinh"})  # Common, Inherited
# The writing systems that combine scripts (UTS 39's augmented script sets).
_HAN_WITH_BOPOMOFO, _JAPANESE, _KOREAN = "Hanb", "Jpan", "Kore"
_AUGMENTED = {
    "Hani": (_HAN_WITH_BOPOMOFO, _JAPANESE, _KOREAN),
    "Hira": (_JAPANESE,),
    "Kana": (_JAPANESE,),
    "Hang": (_KOREAN,),
    "Bopo": (_HAN_WITH_BOPOMOFO,),
}
_LATIN = "Latn"


def _augmented(char: str) -> frozenset[str] | None:
    """The character's augmented script set; None for one that goes with any script."""
    scripts = frozenset(unicodedataplus.script_extensions(char))
    if scripts <= _ANY:
        return None
    extra = [system for script in scripts for system in _AUGMENTED.get(script, ())]
    return scripts.union(extra) if extra else scripts


def is_highly_restrictive(text: str) -> bool:
    """One script for the whole text, or Latin with Japanese, Chinese or Korean."""
    resolved: frozenset[str] | None = None  # None: every script so far
    without_latin: frozenset[str] | None = None
    for char in text:
        scripts = _augmented(char)
        if scripts is None:
            continue
        resolved = scripts if resolved is None else resolved & scripts
        if _LATIN not in scripts:
            without_latin = scripts if without_latin is None else without_latin & scripts
    if resolved is None or resolved:
        return True
    return without_latin is not None and not without_latin.isdisjoint(
        (_HAN_WITH_BOPOMOFO, _JAPANESE, _KOREAN)
    )
