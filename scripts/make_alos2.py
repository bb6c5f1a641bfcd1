#!/usr/bin/env python3
"""Write a synthetic ALOS-2 / PALSAR-2 CEOS product (VOL, LED, IMG…, TRL, summary.txt).

The records follow the field tables of `../shared/specs/ceos-alos2.md` (0-based offsets): the
common 12-byte big-endian record header, the 720-byte file descriptors, the SAR leader's record
directory and records, and the per-line prefixes of the image files (signal data records for
level 1.1, processed data records for levels 1.5 and 3.1). Every per-line binary field is
written as the *signed* big-endian integer the tables describe, so southern and western
coordinates are negative in the file.

Levels 1.1 (C*8, complex64), 1.5 and 3.1 (IU2, uint16); stripmap (one IMG per polarisation)
or ScanSAR (one IMG per polarisation and scan, `-B<n>` / `-F<n>` suffixes); northern or
southern hemisphere. Facility-related records 1–4 are opaque in the real files (hundreds of
kB); here they are short opaque records, which a reader that walks record headers must accept.

Usage (also a module: tests import `make_product`, which returns what was written):

    make_alos2.py OUT_DIR --level 1.5 --mode stripmap --hemisphere south --lines 40 --pixels 30
    make_alos2.py OUT_DIR --level 1.1 --mode scansar --scans 5 --lines 30000 --pixels 64 --pols HH

Prints a JSON summary (files, shapes) on stdout.
"""
import argparse
import datetime as dt
import json
import pathlib
import struct
import sys

import numpy as np

BLANK = b" "


# ---------------------------------------------------------------------------------------------
# Field writing

def header(seq, codes, length):
    """The common 12-byte record header: sequence number, 4 type codes, record length (BE)."""
    return struct.pack(">I4BI", seq, *codes, length)


class Record:
    """A blank-filled record of `length` bytes with the header; fields put by 0-based offset."""

    def __init__(self, seq, codes, length):
        self.buf = bytearray(BLANK * length)
        self.buf[0:12] = header(seq, codes, length)

    def a(self, off, n, text):  # A: ASCII, left-justified, space-padded
        b = str(text).encode("ascii")[:n]
        self.buf[off:off + n] = b.ljust(n, BLANK)

    def i(self, off, n, value):  # I: ASCII integer, right-justified
        b = str(int(value)).encode("ascii")
        assert len(b) <= n, (off, n, value)
        self.buf[off:off + n] = b.rjust(n, BLANK)

    def f(self, off, n, value, fmt="{:.7f}"):  # F / E: ASCII float, right-justified
        b = fmt.format(value).encode("ascii")
        assert len(b) <= n, (off, n, value)
        self.buf[off:off + n] = b.rjust(n, BLANK)

    def e(self, off, n, value):
        self.f(off, n, value, fmt="{:.15E}" if n >= 22 else "{:.6E}")

    def bytes(self):
        return bytes(self.buf)


# Record type codes (subtype 1, type, subtype 2, subtype 3), as in the real ALOS-2 files.
VOL_DESCRIPTOR = (192, 192, 18, 18)
FILE_POINTER = (219, 192, 18, 18)
TEXT_RECORD = (18, 192, 18, 18)
LED_FD = (11, 192, 18, 18)
IMG_FD = (50, 192, 18, 18)
TRL_FD = (63, 192, 18, 18)
DATASET_SUMMARY = (18, 10, 18, 20)
MAP_PROJECTION = (18, 20, 18, 20)
PLATFORM_POSITION = (18, 30, 18, 20)
ATTITUDE = (18, 40, 18, 20)
RADIOMETRIC = (18, 50, 18, 20)
DATA_QUALITY = (18, 60, 18, 20)
FACILITY = (18, 200, 18, 70)
SIGNAL_DATA = (50, 10, 18, 20)
PROCESSED_DATA = (50, 11, 18, 20)


def file_descriptor_common(rec, file_id, file_number):
    """Bytes 12–180, shared by the LED, IMG and TRL file descriptors (§3)."""
    rec.a(12, 2, "A")
    rec.a(16, 12, "CEOS-SAR")
    rec.a(28, 2, "A")
    rec.a(30, 2, "A")
    rec.a(32, 12, "003.000")
    rec.i(44, 4, file_number)
    rec.a(48, 16, file_id)
    rec.a(64, 4, "FSEQ")
    rec.i(68, 8, 1)
    rec.i(76, 4, 4)
    rec.a(80, 4, "FTYP")
    rec.i(84, 8, 5)
    rec.i(92, 4, 4)
    rec.a(96, 4, "FLGT")
    rec.i(100, 8, 9)
    rec.i(108, 4, 4)


# ---------------------------------------------------------------------------------------------
# Per-line prefixes as NumPy structured types: (name, offset, type). Signed big-endian.

SIGNAL_FIELDS = [  # §6.2, level 1.1, P = 544
    ("record_sequence_number", 0, ">u4"), ("codes", 4, ">u4"), ("record_length", 8, ">u4"),
    ("line_number", 12, ">i4"), ("record_index", 16, ">i4"),
    ("left_fill", 20, ">i4"), ("data_pixels", 24, ">i4"), ("right_fill", 28, ">i4"),
    ("sensor_update_flag", 32, ">i4"),
    ("year", 36, ">i4"), ("day_of_year", 40, ">i4"), ("milliseconds", 44, ">i4"),
    ("channel_id", 48, ">i2"), ("channel_code", 50, ">i2"),
    ("tx_pol", 52, ">i2"), ("rx_pol", 54, ">i2"), ("prf", 56, ">i4"), ("scan_id", 60, ">i4"),
    ("range_compressed", 64, ">i2"), ("chirp_type", 66, ">i2"), ("chirp_length", 68, ">i4"),
    ("microseconds", 84, ">i8"), ("receiver_gain", 92, ">i4"), ("invalid_line", 96, ">i4"),
    ("slant_range", 116, ">i4"), ("window_position", 120, ">i4"),
    ("platform_update_flag", 128, ">i4"),
    ("platform_lat", 132, ">i4"), ("platform_lon", 136, ">i4"),
    ("platform_altitude", 140, ">i4"), ("ground_speed", 144, ">i4"),
    ("pitch", 180, ">i4"), ("roll", 184, ">i4"), ("yaw", 188, ">i4"),
    ("lat_first", 192, ">i4"), ("lat_mid", 196, ">i4"), ("lat_last", 200, ">i4"),
    ("lon_first", 204, ">i4"), ("lon_mid", 208, ">i4"), ("lon_last", 212, ">i4"),
    ("burst_number", 216, ">i4"), ("line_in_burst", 220, ">i4"),
    ("frame_number", 284, ">i4"),
]
PROCESSED_FIELDS = [  # §6.3, levels 1.5 / 3.1, P = 192
    ("record_sequence_number", 0, ">u4"), ("codes", 4, ">u4"), ("record_length", 8, ">u4"),
    ("line_number", 12, ">i4"), ("record_index", 16, ">i4"),
    ("left_fill", 20, ">i4"), ("data_pixels", 24, ">i4"), ("right_fill", 28, ">i4"),
    ("sensor_update_flag", 32, ">i4"),
    ("year", 36, ">i4"), ("day_of_year", 40, ">i4"), ("milliseconds", 44, ">i4"),
    ("channel_id", 48, ">i2"), ("channel_code", 50, ">i2"),
    ("tx_pol", 52, ">i2"), ("rx_pol", 54, ">i2"), ("prf", 56, ">i4"), ("scan_id", 60, ">i4"),
    ("slant_range_first", 64, ">i4"), ("slant_range_mid", 68, ">i4"), ("slant_range_last", 72, ">i4"),
    ("doppler_first", 76, ">i4"), ("doppler_mid", 80, ">i4"), ("doppler_last", 84, ">i4"),
    ("fm_rate_first", 88, ">i4"), ("fm_rate_mid", 92, ">i4"), ("fm_rate_last", 96, ">i4"),
    ("look_angle", 100, ">i4"), ("squint_angle", 104, ">i4"),
    ("geo_update_flag", 128, ">i4"),
    ("lat_first", 132, ">i4"), ("lat_mid", 136, ">i4"), ("lat_last", 140, ">i4"),
    ("lon_first", 144, ">i4"), ("lon_mid", 148, ">i4"), ("lon_last", 152, ">i4"),
    ("northing_first", 156, ">i4"), ("northing_last", 164, ">i4"),
    ("easting_first", 168, ">i4"), ("easting_last", 176, ">i4"),
    ("line_heading", 180, ">i4"),
]


def record_dtype(fields, prefix, pixels, pixel_type):
    names = [n for n, _, _ in fields] + ["pixels"]
    formats = [t for _, _, t in fields] + [(pixel_type, (pixels,))]
    offsets = [o for _, o, _ in fields] + [prefix]
    item = prefix + pixels * np.dtype(pixel_type).itemsize
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": item})


# ---------------------------------------------------------------------------------------------
# The product

POL_CODES = {"H": 0, "V": 1}


def names(level, mode, pols, scans, method, orbit, frame, date, look="R", direction=None):
    mode_code = {"stripmap": "FBD" if len(pols) > 1 else "FBS", "scansar": "WBD" if len(pols) > 1 else "WBS"}[mode]
    if level == "1.1":
        option, proj = "_", "_"
    else:
        option, proj = "G", "U"
    product_id = f"{mode_code}{look}{level}{option}{proj}{direction}"
    scene_id = f"ALOS2{orbit:05d}{frame:04d}-{date:%y%m%d}"
    images = []
    for pol in pols:
        if mode == "scansar" and level == "1.1":
            for s in range(1, scans + 1):
                images.append((pol, s, f"IMG-{pol}-{scene_id}-{product_id}-{method}{s}"))
        else:
            images.append((pol, None, f"IMG-{pol}-{scene_id}-{product_id}"))
    return scene_id, product_id, images


def make_product(out, *, level="1.5", mode="stripmap", hemisphere="north", lines=24, pixels=16,
                 pols=("HH", "HV"), scans=3, method="F", seed=0, write_chunk_lines=4096,
                 line_metadata_truth=True):
    """Write the product into directory `out`; return what was written:
    {"files": [...], "scene_id", "product_id", "level", "images": {group: {"file", "pol", "scan",
    "shape", "dtype", "pixels" (ndarray, if line_metadata_truth), "lines": {name: ndarray}}},
    "leader": {...}}."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    south = hemisphere == "south"
    start = dt.datetime(2015, 4, 10, 1, 2, 3, 456000) if not south else dt.datetime(2016, 12, 31, 23, 59, 58, 0)
    orbit, frame = (4410, 740) if not south else (15976, 6960)
    direction = "A" if south else "D"
    scene_id, product_id, images = names(level, mode, list(pols), scans, method, orbit, frame, start,
                                         direction=direction)
    l11 = level == "1.1"
    prefix = 544 if l11 else 192
    bpp = 8 if l11 else 2
    pixel_type = ">c8" if l11 else ">u2"
    truth = {"scene_id": scene_id, "product_id": product_id, "level": level, "images": {}, "files": []}
    lat0, lon0 = (35.123456, 139.654321) if not south else (-12.345678, -62.987654)
    prf_mhz = 2122318 if not l11 else 1500123
    line_dt_us = 1_000_000 * 1000 // prf_mhz  # one line per PRF period (µs)

    # ---------------- IMG files
    img_info = []
    for k, (pol, scan, fname) in enumerate(images):
        n = lines + (k % 3)  # different line counts per image
        npx = pixels + (k % 2) * 2
        rec_len = prefix + npx * bpp
        fd = Record(1, IMG_FD, 720)
        file_descriptor_common(fd, "AL2 SARCIMOP" if not l11 else "AL2 SARCIMGY", 3 + k)
        fd.i(180, 6, n)
        fd.i(186, 6, rec_len)
        fd.i(216, 4, 32 if l11 else 16)
        fd.i(220, 4, 2 if l11 else 1)
        fd.i(224, 4, bpp)
        fd.a(228, 4, "")
        fd.i(232, 4, 1)
        fd.i(236, 8, n)
        fd.i(244, 4, 0)
        fd.i(248, 8, npx)
        fd.i(256, 4, 0)
        fd.i(260, 4, 0)
        fd.i(264, 4, 0)
        fd.a(268, 4, "BSQ")
        fd.i(272, 2, 1)
        fd.i(274, 2, 1)
        fd.i(276, 4, prefix)
        fd.i(280, 8, npx * bpp)
        fd.i(288, 4, 0)
        fd.a(292, 4, "")
        fd.a(400, 28, "COMPLEX*8" if l11 else "UNSIGNED INTEGER*2")
        fd.a(428, 4, "C*8" if l11 else "IU2")
        fd.i(432, 4, 0)
        fd.i(436, 4, 0)
        if not l11:
            fd.i(440, 8, 65535)
        if scan is not None:
            burst_lines = max(1, n // 4)
            fd.i(448, 4, -(-n // burst_lines))
            fd.i(452, 4, burst_lines)
            fd.i(456, 4, 3)
        else:
            burst_lines = None
        dtype = record_dtype(SIGNAL_FIELDS if l11 else PROCESSED_FIELDS, prefix, npx, pixel_type)
        path = out / fname
        lines_truth = {}
        pix_truth = []
        ids = np.arange(n, dtype=np.int64)
        # Per-line values (signed; south/west negative in the southern scene).
        t_us = start.hour * 3_600_000_000 + start.minute * 60_000_000 + start.second * 1_000_000 \
            + start.microsecond + ids * line_dt_us + k * 7
        day = t_us // 86_400_000_000
        t_us = t_us % 86_400_000_000
        year = np.full(n, start.year, np.int64)
        doy = np.full(n, start.timetuple().tm_yday, np.int64) + day
        # a scene crossing New Year (southern case) rolls the year over
        days_in_year = 366 if (start.year % 4 == 0) else 365
        over = doy > days_in_year
        year[over] += 1
        doy[over] -= days_in_year
        lat_step = -0.000123 if not south else -0.000321
        lat_first = np.round((lat0 + ids * lat_step) * 1e6).astype(np.int64)
        lon_first = np.round((lon0 - 0.05 * k + ids * 0.0000217) * 1e6).astype(np.int64)
        v = {
            "line_number": ids + 1,
            "record_index": np.full(n, 1),
            "left_fill": np.zeros(n, np.int64),
            "data_pixels": np.full(n, npx),
            "right_fill": np.zeros(n, np.int64),
            "year": year, "day_of_year": doy, "milliseconds": t_us // 1000,
            "channel_id": np.full(n, 2 if len(pols) > 1 else 1), "channel_code": np.zeros(n, np.int64),
            "tx_pol": np.full(n, POL_CODES[pol[0]]), "rx_pol": np.full(n, POL_CODES[pol[1]]),
            "prf": np.full(n, prf_mhz + 1000 * (scan or 0)),
            "scan_id": np.full(n, scan or 0),
            "lat_first": lat_first, "lat_mid": lat_first - 2345, "lat_last": lat_first - 4690,
            "lon_first": lon_first, "lon_mid": lon_first + 123456, "lon_last": lon_first + 246912,
        }
        if l11:
            v |= {
                "microseconds": t_us,
                "slant_range": np.full(n, 700123 + 50000 * (scan or 0)) + (ids % 3),
                "window_position": np.full(n, 4567),
                "platform_lat": lat_first + 50000, "platform_lon": lon_first - 800000,
                "platform_altitude": np.full(n, 628000), "ground_speed": np.full(n, 700000),
                "pitch": np.full(n, -64817), "roll": np.full(n, -30194940), "yaw": np.full(n, -3699084),
                "burst_number": (ids // burst_lines) + 1 if burst_lines else np.zeros(n, np.int64),
                "line_in_burst": (ids % burst_lines) + 1 if burst_lines else np.zeros(n, np.int64),
                "frame_number": np.full(n, frame),
            }
        else:
            v |= {
                "slant_range_first": np.full(n, 850123) + ids, "slant_range_mid": np.full(n, 880321) + ids,
                "slant_range_last": np.full(n, 910555) + ids,
                "doppler_first": np.full(n, -12345) + 7 * ids, "doppler_mid": np.full(n, 23456) - ids,
                "doppler_last": np.full(n, -34567),
                "fm_rate_first": np.full(n, -512), "fm_rate_mid": np.full(n, -498), "fm_rate_last": np.full(n, -480),
                "look_angle": np.full(n, 32123456), "squint_angle": np.full(n, -1234),
                "geo_update_flag": np.ones(n, np.int64),
                "northing_first": np.full(n, 3_890_000 if not south else -1_234_567) - 25 * ids,
                "northing_last": np.full(n, 3_860_000 if not south else -1_264_567) - 25 * ids,
                "easting_first": np.full(n, 350_000) + 3 * ids, "easting_last": np.full(n, 420_000) + 3 * ids,
                "line_heading": np.full(n, -167123456 if south else 192876543),
            }
        with open(path, "wb") as f:
            f.write(fd.bytes())
            for s in range(0, n, write_chunk_lines):
                e = min(n, s + write_chunk_lines)
                recs = np.zeros(e - s, dtype)
                recs["record_sequence_number"] = np.arange(s + 2, e + 2)
                codes = (PROCESSED_DATA if not l11 else SIGNAL_DATA)
                recs["codes"] = int.from_bytes(bytes(codes), "big")
                recs["record_length"] = rec_len
                for name, arr in v.items():
                    recs[name] = arr[s:e]
                if l11:
                    px = (rng.standard_normal((e - s, npx)) + 1j * rng.standard_normal((e - s, npx))) * 100
                    px = px.astype(np.complex64)
                else:
                    px = rng.integers(0, 65536, (e - s, npx), dtype=np.uint16)
                recs["pixels"] = px
                f.write(recs.tobytes())
                if line_metadata_truth:
                    pix_truth.append(px)
        group = f"{pol}_scan{scan}" if scan is not None else pol
        for name, arr in v.items():
            lines_truth[name] = np.asarray(arr, np.int64)
        entry = {
            "file": fname, "pol": pol, "scan": scan, "shape": (n, npx),
            "dtype": "complex64" if l11 else "uint16", "record_length": rec_len, "prefix": prefix,
            "lines": lines_truth,
        }
        if line_metadata_truth:
            entry["pixels"] = np.concatenate(pix_truth) if pix_truth else np.zeros((0, npx), entry["dtype"])
        truth["images"][group] = entry
        img_info.append((fname, n, rec_len))

    # ---------------- LED
    leader_truth = write_leader(out, scene_id, product_id, level, start, south, lat0, lon0, orbit, mode)
    truth["leader"] = leader_truth
    led_name = f"LED-{scene_id}-{product_id}"
    trl_name = f"TRL-{scene_id}-{product_id}"
    vol_name = f"VOL-{scene_id}-{product_id}"
    # ---------------- TRL: FD + one quick-look image (8 × 8 int16)
    trl = Record(1, TRL_FD, 720)
    file_descriptor_common(trl, "AL2 SARCSART", 3 + len(images))
    trl.i(490, 6, 1)
    trl.i(496, 8, 128)
    trl.i(504, 6, 8)
    trl.i(510, 6, 8)
    trl.i(516, 6, 2)
    ql = (np.arange(64, dtype=">i2") - 10).tobytes()
    (out / trl_name).write_bytes(trl.bytes() + ql)

    # ---------------- VOL: descriptor, file pointers (LED, IMG…, TRL), text record
    led_size = (out / led_name).stat().st_size
    pointers = [("AL2 SARCSARL", "SARLEADER FILE", "SARL", leader_truth["n_records"], 720,
                 leader_truth["max_record_length"])]
    for fname, n, rec_len in img_info:
        pointers.append(("AL2 SARCIMOP" if not l11 else "AL2 SARCIMGY", "IMAGERY OPTIONS FILE", "IMOP",
                         n + 1, 720, max(720, rec_len)))
    pointers.append(("AL2 SARCSART", "SARTRAILER FILE", "SART", 2, 720, 128))
    vol = Record(1, VOL_DESCRIPTOR, 360)
    vol.a(12, 2, "A")
    vol.a(16, 12, "CEOS-SAR")
    vol.a(28, 2, "A")
    vol.a(30, 2, "A")
    vol.a(32, 12, "003.000")
    vol.a(44, 16, "EICS")  # physical volume id (as in JAXA's files)
    vol.a(60, 16, f"AL2SAR{start:%Y%m%d}")  # logical volume id
    vol.a(76, 16, "ALOS2  SAR")  # volume set id
    vol.i(92, 2, 1)
    vol.i(94, 2, 1)
    vol.i(96, 2, 1)
    vol.i(98, 2, 1)
    vol.i(100, 4, 4)
    vol.i(104, 4, 1)
    vol.i(108, 4, 1)
    vol.a(112, 16, f"{start:%Y%m%d%H%M%S}00")
    vol.a(128, 12, "JAPAN")
    vol.a(140, 8, "JAXA")
    vol.a(148, 12, "EICS")
    vol.i(160, 4, len(pointers))
    vol.i(164, 4, 1)
    recs = [vol.bytes()]
    for j, (fid, cls, code, nrec, first, maxlen) in enumerate(pointers):
        p = Record(2 + j, FILE_POINTER, 360)
        p.a(12, 2, "A")
        p.i(16, 4, j + 1)
        p.a(20, 16, fid)
        p.a(36, 28, cls)
        p.a(64, 4, code)
        p.a(68, 28, "MIXED BINARY AND ASCII")
        p.a(96, 4, "MBAA")
        p.i(100, 8, nrec)
        p.i(108, 8, first)
        p.i(116, 8, maxlen)
        p.a(124, 12, "VARIABLE LEN" if j == 0 else "FIXED LENGTH")
        p.a(136, 4, "VARE" if j == 0 else "FIXD")
        p.i(140, 2, 1)
        p.i(142, 2, 1)
        p.i(144, 8, 1)
        p.i(152, 4, 1)
        recs.append(p.bytes())
    txt = Record(2 + len(pointers), TEXT_RECORD, 360)
    txt.a(12, 2, "A")
    txt.a(16, 40, f"PRODUCT:{product_id}")
    txt.a(56, 60, f"PROCESS:JAPAN-JAXA-ALOS2-EICS  {start:%Y%m%d %H%M%S}")
    txt.a(116, 40, "")
    txt.a(156, 40, f"{scene_id}")
    txt.a(196, 40, f"SCENE:{orbit:05d}-{frame:04d}")
    recs.append(txt.bytes())
    (out / vol_name).write_bytes(b"".join(recs))

    # ---------------- summary.txt
    files = [vol_name, led_name] + [f for f, _, _ in img_info] + [trl_name]
    lvl = level.replace(".", "")
    centre = start + dt.timedelta(seconds=5)
    summary = [
        ("Odi_SceneId", "SARD000000000001-00001-001-001"),
        ("Odi_SiteDateTime", f"PROCESS:JAPAN-JAXA-ALOS2-EICS  {start:%Y%m%d %H%M%S}"),
        ("Scs_SceneID", scene_id),
        ("Scs_SceneShift", "0"),
        ("Pds_ProductID", product_id),
        ("Pds_ResamplingMethod", "NN"),
        ("Pds_UTM_ZoneNo", "54" if not south else "20"),
        ("Pds_MapDirection", "MapNorth"),
        ("Pds_PixelSpacing", "6.250000"),
        ("Pds_OrbitDataPrecision", "Precision"),
        ("Pds_AttitudeDataPrecision", "Onboard"),
        ("Img_SceneCenterDateTime", f"{centre:%Y%m%d %H:%M:%S}.{centre.microsecond // 1000:03d}"),
        ("Img_SceneStartDateTime", f"{start:%Y%m%d %H:%M:%S}.{start.microsecond // 1000:03d}"),
        ("Img_ImageSceneCenterLatitude", f"{lat0:.3f}"),
        ("Img_ImageSceneCenterLongitude", f"{lon0:.3f}"),
        ("Img_OffNadirAngle", "36.6"),
        ("Pdi_ProductDataSize", "1.0"),
        (f"Pdi_CntOfL{lvl}ProductFileName", str(len(files))),
    ]
    summary += [(f"Pdi_L{lvl}ProductFileName{j + 1:02d}", f) for j, f in enumerate(files)]
    summary += [("Pdi_BitPixel", "32" if l11 else "16")]
    for j, (fname, n, rec_len) in enumerate(img_info):
        summary += [(f"Pdi_NoOfPixels_{j}", str((rec_len - prefix) // bpp)), (f"Pdi_NoOfLines_{j}", str(n))]
    summary += [
        ("Pdi_ProductFormat", "CEOS"),
        ("Ach_TimeCheck", "GOOD"),
        ("Ach_AbsoluteNavigationStatus", ""),
        ("Rad_PracticeResultCode", "GOOD"),
        ("Lbi_Satellite", "ALOS2"),
        ("Lbi_Sensor", "SAR"),
        ("Lbi_ProcessLevel", level),
        ("Lbi_ProcessFacility", "EICS"),
        ("Lbi_ObservationDate", f"{start:%Y%m%d}"),
    ]
    (out / "summary.txt").write_text("".join(f'{k}="{v}"\n' for k, v in summary))
    truth["summary"] = dict(summary)
    truth["files"] = files + ["summary.txt"]
    return truth


def write_leader(out, scene_id, product_id, level, start, south, lat0, lon0, orbit, mode):
    l11 = level == "1.1"
    centre = start + dt.timedelta(seconds=5)
    recs = []
    seq = 2
    # dataset summary (§5.2)
    ds = Record(seq, DATASET_SUMMARY, 4096)
    ds.i(12, 4, 1)
    ds.i(16, 4, 1)
    ds.a(20, 32, scene_id)
    ds.a(68, 32, f"{centre:%Y%m%d%H%M%S}{centre.microsecond // 1000:03d}")
    ds.f(116, 16, lat0)
    ds.f(132, 16, lon0)
    ds.f(148, 16, -12.513874 if south else 192.3456)
    ds.a(164, 16, "GRS80")
    ds.f(180, 16, 6378.137)
    ds.f(196, 16, 6356.7523141)
    ds.i(324, 8, 6580)
    ds.i(332, 8, 6435)
    ds.i(388, 4, 2)
    ds.a(396, 16, "ALOS2")
    ds.a(412, 32, "ALOS2 -L -0315-")
    ds.i(444, 8, orbit)
    ds.f(476, 8, 90.0, "{:.3f}")
    ds.f(484, 8, 40.573, "{:.3f}")
    ds.f(500, 16, 0.2424525)
    ds.f(710, 16, 34.9305319)
    ds.f(742, 16, 30.842168)
    ds.f(934, 16, 2122318.448518)
    ds.a(1046, 16, "EICS")
    ds.a(1094, 16, level)
    ds.f(1174, 16, 1.0 if l11 else 2.0)
    ds.f(1190, 16, 1.0)
    # Flags that are enumerations (xarray-ceos-alos2 rejects blanks there).
    ds.i(516, 4, 0)  # motion compensation indicator
    for off in (758, 762, 930, 1678, 1682):  # base band / range compression / echo tracker / clutter lock / autofocus
        ds.a(off, 4, "NO" if off != 762 else "YES")
    ds.a(1270, 32, "1")  # weighting function in azimuth: rectangle
    ds.a(1302, 32, "1")  # weighting function in range
    ds.a(1526, 8, "")
    ds.a(1534, 8, "ASCEND" if south else "DESCEND")
    ds.f(1686, 16, 3.1 if l11 else 6.25)
    ds.f(1702, 16, 2.1 if l11 else 6.25)
    recs.append(ds)
    seq += 1
    if not l11:
        mp = Record(seq, MAP_PROJECTION, 1620)
        mp.a(28, 32, "GEOCODED")
        mp.i(60, 16, 16)
        mp.i(76, 16, 24)
        mp.f(92, 16, 6.25)
        mp.f(108, 16, 6.25)
        mp.a(412, 32, "UTM-PROJECTION")
        mp.i(476, 4, 54 if not south else 20)
        recs.append(mp)
        seq += 1
    # platform position (§5.3): 28 state vectors
    pp = Record(seq, PLATFORM_POSITION, 4680)
    pp.a(12, 32, "2")
    first = start.replace(microsecond=0) - dt.timedelta(minutes=10)
    sod = first.hour * 3600 + first.minute * 60 + first.second
    npts = 28
    pp.i(140, 4, npts)
    pp.a(144, 12, f"{first.year:4d}{first.month:4d}{first.day:4d}")
    pp.i(156, 4, first.timetuple().tm_yday)
    pp.e(160, 22, float(sod))
    pp.e(182, 22, 60.0)
    pp.a(204, 64, "ECR")
    pp.e(268, 22, 123.456)
    sv = []
    for j in range(npts):
        x, y, z = 2129356.513 + 1000.0 * j, -2537160.286 - 500.5 * j, (-1 if south else 1) * (6186365.283 - 250.25 * j)
        vx, vy, vz = 2210.617 - j, -6430.174 + 0.5 * j, 3399.321 * (-1 if south else 1)
        sv.append((x, y, z, vx, vy, vz))
        for c, val in enumerate((x, y, z, vx, vy, vz)):
            pp.e(386 + 132 * j + 22 * c, 22, val)
    pp.i(4100, 1, 0)
    recs.append(pp)
    seq += 1
    # attitude (§5.3): points of 120 bytes from byte 16
    at = Record(seq, ATTITUDE, 16384)
    nat = 22
    at.i(12, 4, nat)
    att = []
    for j in range(nat):
        base = 16 + 120 * j
        doy = start.timetuple().tm_yday
        ms = (start.hour * 3600 + start.minute * 60 + start.second) * 1000 + 1000 * j
        pitch, roll, yaw = -0.06481708 + 1e-4 * j, -30.19494, -3.699084 - 1e-3 * j
        att.append((doy, ms, pitch, roll, yaw))
        at.i(base, 4, doy)
        at.i(base + 4, 8, ms)
        for c in range(3):
            at.i(base + 12 + 4 * c, 4, 0)
        for c, val in enumerate((pitch, roll, yaw)):
            at.e(base + 24 + 14 * c, 14, val)
        for c in range(3):
            at.i(base + 66 + 4 * c, 4, 0)
        for c, val in enumerate((-5.2e-05, -1.3887e-05, -8.93e-04)):
            at.e(base + 78 + 14 * c, 14, val)
    recs.append(at)
    seq += 1
    # radiometric data: calibration factor CF at 20
    rd = Record(seq, RADIOMETRIC, 9860)
    rd.i(12, 4, 1)
    rd.i(16, 4, 1)
    cf = -83.0 if not l11 else -115.0
    rd.f(20, 16, cf)
    for j in range(8):
        re, im = (1.0, 0.0) if j in (0, 6) else (0.0, 0.0)
        rd.f(36 + 32 * j, 16, re)
        rd.f(52 + 32 * j, 16, im)
    recs.append(rd)
    seq += 1
    dq = Record(seq, DATA_QUALITY, 1620)
    dq.i(12, 4, 1)
    dq.a(16, 4, "")
    dq.i(26, 4, 2)  # number of channels (sizes two arrays of the record)
    recs.append(dq)
    seq += 1
    # facility-related 1–4: opaque (short here), 5: coefficients (blank) + lost lines
    fac_lengths = [1000, 1200, 3072, 900, 5000]
    for j, ln in enumerate(fac_lengths):
        fr = Record(seq, FACILITY, ln)
        fr.i(12, 4, j + 1)
        if j == 4:
            fr.i(416, 4, 0)  # calibration mode data location flag
        recs.append(fr)
        seq += 1
    fd = Record(1, LED_FD, 720)
    file_descriptor_common(fd, "AL2 SARCSARL", 2)
    directory = {180: (1, 4096), 192: (0 if l11 else 1, 1620), 204: (1, 4680), 216: (1, 16384),
                 228: (1, 9860), 252: (1, 1620)}
    for off in range(180, 360, 12):
        cnt, ln = directory.get(off, (0, 0))
        fd.i(off, 6, cnt)
        fd.i(off + 6, 6, ln)
    for j, ln in enumerate(fac_lengths):
        fd.i(420 + 14 * j, 6, 1)
        fd.i(426 + 14 * j, 8, ln)
    led = fd.bytes() + b"".join(r.bytes() for r in recs)
    (out / f"LED-{scene_id}-{product_id}").write_bytes(led)
    return {
        "n_records": 1 + len(recs),
        "max_record_length": max(len(r.buf) for r in recs),
        "scene_id": scene_id,
        "calibration_factor": cf,
        "state_vectors": np.array(sv),
        "attitude": np.array(att),
        "first_point_seconds_of_day": float(sod),
        "orbit": orbit,
        "mission_id": "ALOS2",
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--level", choices=["1.1", "1.5", "3.1"], default="1.5")
    ap.add_argument("--mode", choices=["stripmap", "scansar"], default="stripmap")
    ap.add_argument("--hemisphere", choices=["north", "south"], default="north")
    ap.add_argument("--lines", type=int, default=24)
    ap.add_argument("--pixels", type=int, default=16)
    ap.add_argument("--pols", default="HH,HV")
    ap.add_argument("--scans", type=int, default=5)
    ap.add_argument("--method", choices=["B", "F"], default="F")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    t = make_product(a.out, level=a.level, mode=a.mode, hemisphere=a.hemisphere, lines=a.lines,
                     pixels=a.pixels, pols=a.pols.split(","), scans=a.scans, method=a.method, seed=a.seed,
                     line_metadata_truth=False)
    json.dump({"files": t["files"], "images": {g: {"file": v["file"], "shape": v["shape"]}
                                               for g, v in t["images"].items()}}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
