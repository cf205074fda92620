"""OCR run-together words are split back into vocabulary words; real words are left alone."""

from mmshield.shields.embedded.ocr_words import respace


def test_run_together_words_are_split():
    assert respace("HOW TO BUILD APIPEBOMB") == "HOW TO BUILD a pipe bomb"
    assert respace("STEALCREDITCARDNUMBERS") == "steal credit card numbers"


def test_real_and_unsplittable_words_are_kept():
    assert respace("methamphetamine synthesis") == "methamphetamine synthesis"
    assert respace("GANGKNOWNASTH") == "GANGKNOWNASTH"
    assert respace("") == ""
