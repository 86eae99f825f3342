"""DICOM files for the tests, built with pydicom from images the tests make (shared by the
unit tests and the browser tests). Every file carries a patient name and ID that must never
reach the page."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

PATIENT = "Doe^Jane"
PATIENT_ID = "SECRET-4711"
VL_PHOTO = "1.2.840.10008.5.1.4.1.1.77.1.4"  # VL Photographic Image Storage
CT = "1.2.840.10008.5.1.4.1.1.2"


def _dataset(sop_class: str, syntax: str):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.PatientName = PATIENT
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = "19700101"
    return ds


def _save(ds) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _pixels(ds, rows: int, cols: int, samples: int, bits: int = 8) -> None:
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, cols, samples
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0


def colour(rgb: np.ndarray, photometric: str = "RGB", planar: int = 0, frames: int = 1) -> bytes:
    """An uncompressed VL photographic image: ``rgb`` (H, W, 3) uint8, or (F, H, W, 3) for
    ``frames`` > 1; ``YBR_FULL`` / ``YBR_FULL_422`` store it converted (422: 2x1 chroma)."""
    from pydicom.pixels import convert_color_space
    from pydicom.uid import ExplicitVRLittleEndian

    stack = rgb if frames > 1 else rgb[None]
    ds = _dataset(VL_PHOTO, ExplicitVRLittleEndian)
    ds.Modality = "XC"
    ds.BodyPartExamined = "ARM"
    _pixels(ds, stack.shape[1], stack.shape[2], 3)
    ds.PhotometricInterpretation = photometric
    ds.PlanarConfiguration = planar
    if frames > 1:
        ds.NumberOfFrames = frames
    data = []
    for frame in stack:
        px = frame if photometric == "RGB" else convert_color_space(frame, "RGB", "YBR_FULL")
        if photometric == "YBR_FULL_422":  # Y1 Y2 Cb Cr for each pair of pixels
            y = px[..., 0].reshape(px.shape[0], -1, 2)
            cb = px[..., 1].reshape(px.shape[0], -1, 2).mean(-1).round().astype(np.uint8)
            cr = px[..., 2].reshape(px.shape[0], -1, 2).mean(-1).round().astype(np.uint8)
            data.append(np.concatenate([y, cb[..., None], cr[..., None]], -1).tobytes())
        else:
            data.append((px.transpose(2, 0, 1) if planar else px).tobytes())
    ds.PixelData = b"".join(data)
    return _save(ds)


def jpeg_baseline(rgb: np.ndarray) -> bytes:
    """A JPEG baseline (YBR_FULL_422) VL photographic image, encoded by Pillow."""
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=95)
    ds = _dataset(VL_PHOTO, JPEGBaseline8Bit)
    ds.Modality = "XC"
    _pixels(ds, rgb.shape[0], rgb.shape[1], 3)
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PlanarConfiguration = 0
    ds.PixelData = encapsulate([buf.getvalue()])
    ds["PixelData"].VR = "OB"
    return _save(ds)


def ct(rows: int = 64, cols: int = 64, window: tuple[float, float] | None = (40, 400)) -> bytes:
    """A CT slice: stored values 0..2000 with rescale slope 1, intercept -1024 (HU), its
    VOI window in the file (or none)."""
    from pydicom.uid import ExplicitVRLittleEndian

    ds = _dataset(CT, ExplicitVRLittleEndian)
    ds.Modality = "CT"
    _pixels(ds, rows, cols, 1, bits=16)
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.RescaleSlope = 1
    ds.RescaleIntercept = -1024
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ramp = np.linspace(0, 2000, rows * cols).reshape(rows, cols).astype(np.uint16)
    ds.PixelData = ramp.tobytes()
    return _save(ds)


def rle(rgb: np.ndarray) -> bytes:
    """A colour image compressed with RLE Lossless: a syntax skinlens does not read."""
    from pydicom import dcmread
    from pydicom.uid import RLELossless

    ds = dcmread(io.BytesIO(colour(rgb)))
    ds.compress(RLELossless)
    return _save(ds)


def without_pixels() -> bytes:
    """A DICOM file with no image (as a report would be)."""
    from pydicom.uid import ExplicitVRLittleEndian

    ds = _dataset("1.2.840.10008.5.1.4.1.1.88.11", ExplicitVRLittleEndian)
    ds.Modality = "SR"
    return _save(ds)


def corrupt(rgb: np.ndarray) -> bytes:
    """A colour DICOM file cut off in its pixel data."""
    data = colour(rgb)
    return data[: len(data) - rgb.size // 2]
