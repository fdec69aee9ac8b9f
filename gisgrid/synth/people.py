"""The people who run the grids: district departments, grid workers and chiefs, community, street
and department staff, building, street and shop heads — and who is assigned to what.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gisgrid.synth.names import person_names

HOUSEHOLDS_PER_GRID = 400  # one grid worker per grid's worth of households

DEPARTMENTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # code, name, category classes (2 digits) or items (5 digits) handled
    ("370403-CGJ", "区城市管理局", ("03", "05", "06")),
    ("370403-ZFJ", "区综合行政执法局", ("09", "07003")),
    ("370403-ZJJ", "区住房和城乡建设局", ("04", "07")),
    ("370403-SWJ", "区水务局", ("01005",)),
    ("370403-GYJ", "区公用事业服务中心", ("01",)),
    ("370403-JTJ", "区交通运输局", ("02",)),
    ("370403-GAJ", "公安薛城分局", ("10", "12", "09015")),
    ("370403-MZJ", "区民政局", ("11",)),
    ("370403-YJJ", "区应急管理局", ("08",)),
)


def make_departments(categories: pd.DataFrame) -> pd.DataFrame:
    """The district departments with the 5-digit categories each handles (from :data:`DEPARTMENTS`)."""
    codes = categories["code"].astype(str).tolist()
    rows = []
    for code, name, handles in DEPARTMENTS:
        cats = sorted({c for c in codes for h in handles if c.startswith(h)})
        rows.append({"code": code, "name": name, "categories": cats, "contact_phone": None})
    return pd.DataFrame(rows)


def make_people(
    rng: np.random.Generator,
    today: dt.date,
    comm_hh: np.ndarray,
    comm_codes: np.ndarray,
    n_street: int,
    departments: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
    complexes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Staff and assignments; also a roster of keys per community/street/department for incidents."""
    n_comm = comm_hh.size
    workers = np.maximum(1, np.rint(comm_hh / HOUSEHOLDS_PER_GRID)).astype(np.int64)
    chiefs = np.maximum(1, -(-workers // 4))
    roles: list[np.ndarray] = []
    comms: list[np.ndarray] = []
    depts: list[np.ndarray] = []

    def group(role: str, comm: np.ndarray | None, n: int, dept: np.ndarray | None = None) -> np.ndarray:
        start = sum(r.size for r in roles)
        roles.append(np.full(n, role, dtype=object))
        comms.append(comm_codes[comm] if comm is not None else np.full(n, None, dtype=object))
        depts.append(dept if dept is not None else np.full(n, None, dtype=object))
        return np.arange(start, start + n)

    comm_idx = np.arange(n_comm)
    w_comm = np.repeat(comm_idx, workers)
    w_keys = group("grid_worker", w_comm, w_comm.size)
    c_comm = np.repeat(comm_idx, chiefs)
    c_keys = group("grid_chief", c_comm, c_comm.size)
    s_comm = np.repeat(comm_idx, 5)
    s_keys = group("community_staff", s_comm, s_comm.size)
    p_keys = group("police", comm_idx, n_comm)
    st_keys = group("street_staff", None, 3 * n_street)
    d_codes = np.repeat(departments["code"].to_numpy(dtype=object), 2)
    d_keys = group("department_staff", None, d_codes.size, d_codes)
    code_pos = {c: k for k, c in enumerate(comm_codes)}
    b_comm = np.array([code_pos[c] for c in buildings["community_code"]], dtype=np.int64)
    bh_keys = group("building_head", b_comm, len(buildings))
    main = edges["highway"].isin(["primary", "secondary"])
    main_roads = edges.loc[main, "name"].drop_duplicates().to_numpy(dtype=object)
    sh_keys = group("street_head", None, main_roads.size)
    primary = edges.loc[edges["highway"] == "primary", "name"].drop_duplicates().to_numpy(dtype=object)
    shop_keys = group("shop_head", None, primary.size)

    n_staff = sum(r.size for r in roles)
    staff = pd.DataFrame(
        {
            "staff_key": np.arange(n_staff),
            "name": person_names(rng, n_staff),
            "role": np.concatenate(roles),
            "phone": [f"SYN-{k:07d}" for k in range(n_staff)],
            "department_code": np.concatenate(depts),
            "community_code": np.concatenate(comms),
            "active": True,
        }
    )
    # assignments
    chief_first = np.searchsorted(c_comm, comm_idx)
    cx_comm = np.array([code_pos[c] for c in complexes["community_code"]], dtype=np.int64)
    cx_chief = c_keys[chief_first[cx_comm] + rng.integers(0, 1 << 30, len(complexes)) % chiefs[cx_comm]]
    targets = [
        (
            "community",
            np.r_[w_keys, c_keys, s_keys, p_keys],
            comm_codes[np.r_[w_comm, c_comm, s_comm, comm_idx]],
        ),
        ("building", bh_keys, buildings["building_key"].to_numpy(dtype=object)),
        ("complex", cx_chief, complexes["complex_key"].to_numpy(dtype=object)),
        ("street", np.r_[sh_keys, shop_keys], np.r_[main_roads, primary]),
        ("department", d_keys, d_codes),
    ]
    day0 = np.datetime64(today, "D")
    parts = []
    for kind, keys, refs in targets:
        vf = day0 - rng.integers(30, 1100, keys.size).astype("timedelta64[D]")
        parts.append(
            pd.DataFrame(
                {
                    "staff_key": keys,
                    "target_kind": kind,
                    "target_ref": refs,
                    "valid_from": [d.item() for d in vf],
                    "valid_to": None,
                }
            )
        )
    assignments = pd.concat(parts, ignore_index=True)
    roster = {
        "worker_first": np.searchsorted(w_comm, comm_idx),
        "workers": workers,
        "worker_keys": w_keys,
        "chief_first": chief_first,
        "chiefs": chiefs,
        "chief_keys": c_keys,
        "comm_staff": s_keys[np.searchsorted(s_comm, comm_idx)],
        "street_staff": st_keys.reshape(n_street, 3)[:, 0],
        "dept_staff": dict(zip(d_codes[::2], d_keys[::2], strict=True)),
    }
    return staff, assignments, roster
