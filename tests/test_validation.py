"""The shared argument checks of drlim.validation: types, bools, NaN, bounds, messages."""

import re

import numpy as np
import pytest

from drlim.validation import (
    as_int_array,
    as_samples,
    as_vector,
    check_choice,
    check_int,
    check_number,
    check_same_shape,
)


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3)])
def test_check_int_accepts_integer_types_and_returns_int(value):
    result = check_int(value, "k", 1, 5)
    assert result == 3 and type(result) is int


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "k must be an int in [1, 5], got True"),
        (np.bool_(False), "k must be an int in [1, 5], got np.False_"),
        (2.0, "k must be an int in [1, 5], got 2.0"),
        ("2", "k must be an int in [1, 5], got '2'"),
        (None, "k must be an int in [1, 5], got None"),
        (0, "k must be in [1, 5], got 0"),
        (6, "k must be in [1, 5], got 6"),
    ],
)
def test_check_int_refuses(value, message):
    with pytest.raises(ValueError) as error:
        check_int(value, "k", 1, 5)
    assert str(error.value) == message


def test_check_int_without_maximum():
    assert check_int(10**12, "n", 0) == 10**12
    with pytest.raises(ValueError, match="n must be >= 0, got -1"):
        check_int(-1, "n", 0)


@pytest.mark.parametrize(
    ("closed", "inside", "outside"),
    [
        ("both", [0, 0.5, 1], [-0.1, 1.1]),
        ("left", [0, 0.5], [1, 1.5]),
        ("right", [0.5, 1], [0, -2]),
        ("neither", [0.5], [0, 1]),
    ],
)
def test_check_number_bounds(closed, inside, outside):
    for value in inside:
        assert check_number(value, "x", 0, 1, closed=closed) == float(value)
    for value in outside:
        with pytest.raises(ValueError, match=r"x must be a finite number in [\[(]0, 1[\])], got"):
            check_number(value, "x", 0, 1, closed=closed)


@pytest.mark.parametrize(
    "value", [True, np.bool_(True), float("nan"), float("inf"), -float("inf"), "1", None, 1j]
)
def test_check_number_refuses_non_numbers_bools_and_non_finite(value):
    with pytest.raises(ValueError, match="margin must be a finite number > 0, got"):
        check_number(value, "margin", 0, closed="right")


def test_check_number_one_sided_and_unbounded_messages():
    assert check_number(np.float32(2.5), "x") == 2.5
    with pytest.raises(ValueError, match="x must be a finite number <= 1, got 2"):
        check_number(2, "x", high=1)
    with pytest.raises(ValueError, match="x must be a finite number < 1, got 1"):
        check_number(1, "x", high=1, closed="left")
    with pytest.raises(ValueError, match="closed must be one of"):
        check_number(1, "x", 0, closed="open")


def test_check_choice():
    assert check_choice("sum", "reduction", ("mean", "sum")) == "sum"
    for bad in ["max", None, ["sum"], True, np.array("sum")]:
        with pytest.raises(ValueError, match=r"reduction must be one of \('mean', 'sum'\), got"):
            check_choice(bad, "reduction", ("mean", "sum"))


def test_as_samples_shapes_dtypes_and_errors():
    images = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    flat = as_samples(images, "X")
    assert flat.shape == (2, 12) and flat.dtype == np.float64
    np.testing.assert_array_equal(flat, images.reshape(2, 12))
    assert as_samples(np.zeros((3, 2), np.float32), "X").dtype == np.float32
    assert as_samples(np.zeros((3, 2)), "X", dtype=np.float32).dtype == np.float32
    bad = [
        (np.zeros(3), r"X must have shape \(n, d\) or \(n, \.\.\.\) with n >= 1 and d >= 1"),
        (np.zeros((0, 3)), "with n >= 1"),
        (np.zeros((3, 0)), "and d >= 1, got"),
        (np.zeros((3, 2), bool), "X must hold real numbers, got dtype bool"),
        (np.array([["a"]]), "X must hold real numbers, got dtype <U1"),
        (np.ones((2, 2), complex), "X must hold real numbers, got dtype complex128"),
        (np.array([[np.nan, 1.0], [np.inf, 2.0]]), "X must be finite, got 2 NaN/inf"),
    ]
    for value, message in bad:
        with pytest.raises(ValueError, match=message):
            as_samples(value, "X")
    with pytest.raises(ValueError, match=r"with n >= 3 and d >= 1, got \(2, 2\)"):
        as_samples(np.zeros((2, 2)), "X", min_samples=3)
    too_large = [[1e39]]  # inf once cast to float32
    with pytest.raises(ValueError, match="X must be finite, got 1"), np.errstate(over="ignore"):
        as_samples(too_large, "X", dtype=np.float32)
    with pytest.raises(TypeError, match="name must be a str"):
        as_samples("X", np.zeros((2, 2)))  # the old argument order


def test_as_vector():
    out = as_vector(np.array([1, 2], np.int32), "azimuth")
    assert out.dtype == np.float64 and out.tolist() == [1.0, 2.0]
    labels = np.array(["a", "b"])
    assert as_vector(labels, "y", length=2, numeric=False).dtype == labels.dtype
    with pytest.raises(ValueError, match=r"y must have shape \(3,\), got shape \(2,\)"):
        as_vector(labels, "y", length=3, numeric=False)
    with pytest.raises(ValueError, match="alpha must be a 1-D array of at least 2 values, got"):
        as_vector([1.0], "alpha", min_length=2)
    with pytest.raises(ValueError, match=r"azimuth must be a non-empty 1-D array, got shape \(\)"):
        as_vector(3.0, "azimuth")
    with pytest.raises(ValueError, match="azimuth must be finite, got 1 NaN/inf"):
        as_vector([0.0, np.nan], "azimuth")
    with pytest.raises(ValueError, match="azimuth must hold real numbers, got dtype bool"):
        as_vector([True, False], "azimuth")


def test_as_int_array():
    ints = np.array([[0, 1]], np.int32)
    assert as_int_array(ints, "t", ndim=2).dtype == np.int32
    assert as_int_array([1.0, 3.0], "ids", ndim=1).dtype == np.int64
    assert as_int_array([], "ids", ndim=1).dtype == np.int64
    for bad, message in [
        ([1.5], "ids must hold integers, got dtype float64"),
        ([np.nan], "ids must hold integers, got dtype float64"),
        ([True], "ids must hold integers, got dtype bool"),
        ([[1]], r"ids must be 1-D, got shape \(1, 1\)"),
    ]:
        with pytest.raises(ValueError, match=message):
            as_int_array(bad, "ids", ndim=1)


def test_as_int_array_refuses_floats_beyond_int64():
    """Casting them would silently give -2**63; the largest floats inside the range stay."""
    inside = np.array([-(2.0**63), np.nextafter(2.0**63, 0)])
    assert as_int_array(inside, "ids", ndim=1).tolist() == [-(2**63), 2**63 - 1024]
    for bad, shown in [([1e30], "1e+30"), ([0.0, -1e19], "-1e+19"), ([2.0**63], "9.22337e+18")]:
        message = f"ids must hold integers in int64's range, got {shown}"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            as_int_array(bad, "ids", ndim=1)


def test_check_same_shape():
    check_same_shape(np.zeros((3, 2)), np.ones((3, 2)), ("z1", "z2"))
    check_same_shape(np.zeros((3, 2)), np.ones((3, 5)), ("X", "Z"), axis=0)
    with pytest.raises(ValueError, match=r"z1 and z2 must have the same shape, got z1 \(3, 2\) "
                                         r"and z2 \(3, 5\)"):
        check_same_shape(np.zeros((3, 2)), np.ones((3, 5)), ("z1", "z2"))
    with pytest.raises(ValueError, match="Z_train and Z_test must have the same size along axis "
                                         "1, got 2 and 5"):
        check_same_shape(np.zeros((3, 2)), np.ones((3, 5)), ("Z_train", "Z_test"), axis=1)
