"""The WordNet glosses the prompt reader falls back on (kinema.world.lexicon, issue #25 item 4)."""

from kinema.world import lexicon


def test_inflected_verbs_find_their_lemma():
    assert lexicon.lemmas("climbs") == ["climb"]
    assert lexicon.lemmas("sank") == ["sink"]  # an irregular form, from WordNet's verb.exc
    assert lexicon.lemmas("zigzagging") == ["zigzag"]
    assert lexicon.lemmas("qwertyed") == []


def test_a_gloss_is_the_first_verb_sense_else_the_adverb():
    assert lexicon.gloss("Sinks") == lexicon.gloss("sink") == "fall or descend to a lower place or level"
    assert lexicon.gloss("ascends") == "travel up"  # cleaned: no trailing comma, no example
    assert lexicon.gloss("skyward") == "toward the sky"  # an adverb
    assert lexicon.gloss("fluffy") is None  # adjectives are not kept
    assert lexicon.gloss("qwerty") is None
