"""publish: the stamp it writes has every field test_book checks."""

from spectral_manifolds import publish


def test_stamp_fields():
    stamp = publish.make_stamp("NVIDIA H100", "full", "abc1234", 12.34)
    assert tuple(stamp) == publish.STAMP_FIELDS
    assert stamp["seconds"] == 12.3 and stamp["date"].endswith("Z")
