"""verify_pair on real faces: a masked astronaut passes, unmasked and weakly masked fail."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from veil.detections import box_iou
from veil.plan.record import MediaInfo, Plan, Region
from veil.render.masks import mask_regions
from veil.settings import MaskSettings, ScanSettings
from veil.verify.check import verify_pair
from veil.verify.recognition import reid_threshold
from verify_media import (
    FACE_BOX,
    WEAK,
    astronaut,
    image_plan,
    photo_yunet_inputs,
    write_masked,
    write_video,
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("astro")
    return {
        "original": write_masked(d / "original.png", None),
        "masked": write_masked(d / "masked.png", MaskSettings()),
        "unmasked": write_masked(d / "unmasked.png", None),
        "weak": write_masked(d / "weak.png", WEAK),
    }


def test_masked_astronaut_passes(files):
    v = verify_pair(files["original"], files["masked"], image_plan())
    assert v.passed, v.reasons
    assert v.checks == {"residual": "pass", "reid": "pass", "metadata": "pass"}
    assert len(v.reid) == 1 and v.reid[0].distance >= reid_threshold()
    assert v.residual_faces == []
    assert v.thumbnail_jpeg


def test_masked_astronaut_passes_without_plan(files):
    v = verify_pair(files["original"], files["masked"])
    assert v.passed, v.reasons
    assert not v.with_plan and len(v.reid) == 1


def test_unmasked_astronaut_has_residual_and_reidentifiable_face(files):
    # The plan claims the face is masked; the verifier must not trust it.
    v = verify_pair(files["original"], files["unmasked"], image_plan())
    assert not v.passed
    assert v.checks["residual"] == "fail" and v.checks["reid"] == "fail"
    assert len(v.residual_faces) >= 1
    face = v.residual_faces[0]
    assert face.frame == 0
    # on the face (each family draws its box a little differently: YuNet's reaches the brow)
    one = np.asarray([face.box], np.float32)
    assert box_iou(one, np.asarray([FACE_BOX], np.float32))[0, 0] >= 0.5
    assert v.reid[0].reidentifiable and v.reid[0].distance < 0.05
    assert any("still visible" in r for r in v.reasons)
    assert any("recognised" in r for r in v.reasons)


def test_weak_blur_fails_reid(files):
    v = verify_pair(files["original"], files["weak"], image_plan(WEAK))
    assert not v.passed
    assert v.checks["reid"] == "fail"
    assert v.reid[0].reidentifiable


def test_to_dict_is_json_and_holds_no_embedding(files):
    v = verify_pair(files["original"], files["weak"], image_plan(WEAK))
    d = v.to_dict()
    text = json.dumps(d)
    assert "thumbnail" not in text

    def longest_list(x):
        if isinstance(x, dict):
            return max([longest_list(v) for v in x.values()] + [0])
        if isinstance(x, list):
            return max([len(x)] + [longest_list(v) for v in x])
        return 0

    assert longest_list(d) < 128  # no 128-D vector anywhere
    assert set(d) >= {"passed", "reasons", "checks", "residual_faces", "reid", "metadata",
                      "seconds", "frames_checked", "frames_total"}


def test_parts_of_a_face_are_not_re_identified_on_their_own(files):
    x1, y1, x2, y2 = FACE_BOX
    part = (x1 + 5, y1 + 5, x1 + (x2 - x1) * 0.75, y1 + (y2 - y1) * 0.75)  # inside the face
    v = verify_pair(files["original"], files["masked"], image_plan(boxes=[FACE_BOX, part]))
    assert [r.box for r in v.reid] == [tuple(round(float(c), 1) for c in FACE_BOX)]


def test_only_faces_detected_at_the_threshold_are_re_identified(files):
    plan = image_plan()
    plan.frames[0].regions[0].score = 0.1  # kept below the threshold (support, persistence)
    v = verify_pair(files["original"], files["masked"], plan)
    assert v.reid == [] and v.passed
    plan.frames[0].regions[0].provenance = "manual"  # placed by hand: a face
    assert len(verify_pair(files["original"], files["masked"], plan).reid) == 1


def test_checks_can_be_skipped(files):
    v = verify_pair(files["original"], files["unmasked"], image_plan(), reid=False,
                    residual=False)
    assert v.passed
    assert v.checks == {"residual": "skipped", "reid": "skipped", "metadata": "pass"}


def test_video_gap_in_plan_is_caught(tmp_path):
    """A face left unmasked in one frame of a video (a gap in the plan) is reported there."""
    small = np.asarray(Image.fromarray(astronaut()).resize((256, 256)))
    box = tuple(v / 2 for v in FACE_BOX)
    settings = MaskSettings()
    plan = Plan(MediaInfo("clip.mp4", "0" * 64, "video", 256, 256, frame_count=12, fps=10.0),
                mask=settings)
    originals, outputs = [], []

    for i in range(12):
        originals.append(small)
        if i == 7:  # the gap: nothing planned, nothing masked
            outputs.append(small)
            continue
        plan.add_region(i, Region(box, track_id=1))
        outputs.append(mask_regions(small, np.asarray([box], np.float32), settings,
                                    np.random.default_rng(i)))
    src = write_video(tmp_path / "clip.mp4", originals)
    out = write_video(tmp_path / "out.mp4", outputs)
    v = verify_pair(src, out, plan, reid=False, metadata=False)
    assert v.kind == "video" and v.frames_total == 12
    assert not v.passed
    assert {f.frame for f in v.residual_faces} == {7}
    assert any("frame 7" in r for r in v.reasons)


def test_reid_choice_takes_each_face_where_it_was_detected_largest() -> None:
    from veil.plan.record import MediaInfo, Plan, Region
    from veil.settings import MaskSettings, ScanSettings
    from veil.verify.check import reid_choice

    plan = Plan(media=MediaInfo(name="v.mp4", sha256="0", kind="video", width=640,
                                height=360, frame_count=10),
                scan=ScanSettings(), mask=MaskSettings())
    for f in range(10):
        side = 40 + 5 * f  # track 1 grows frame by frame
        plan.add_region(f, Region(box=(0, 0, side, side), score=0.9,
                                  provenance="extended" if f == 9 else "detected",
                                  track_id=1))
        plan.add_region(f, Region(box=(300, 0, 350, 50), score=0.9 if f < 5 else 0.1,
                                  provenance="detected", track_id=2, released=(f == 4)))
    plan.add_region(4, Region(box=(500, 0, 560, 60), score=1.0, provenance="manual"))
    for f in range(10):  # a faint track: masked, never detected at the threshold
        plan.add_region(f, Region(box=(100, 100, 160, 160), score=0.1, track_id=3))
    # active positions: frame 4 holds track 1, the manual region and the faint track
    # (track 2 is released there); every other frame track 1, track 2, the faint track
    assert reid_choice(plan, per_track=2) == {8: {0}, 7: {0}, 3: {1}, 2: {1}, 4: {1}}
    assert reid_choice(plan) == {8: {0}, 3: {1}, 4: {1}}  # one frame per face


def test_video_reid_runs_in_its_own_frame_outside_the_sample(tmp_path):
    """A face is re-identified in the frame where it was detected largest, even when the
    residual sample does not include that frame."""
    small = np.asarray(Image.fromarray(astronaut()).resize((256, 256)))
    box = tuple(v / 2 for v in FACE_BOX)
    settings = MaskSettings()
    plan = Plan(MediaInfo("clip.mp4", "0" * 64, "video", 256, 256, frame_count=12, fps=10.0),
                mask=settings)
    outputs = []
    for i in range(12):
        plan.add_region(i, Region(box, score=0.9 if i == 7 else 0.1, track_id=1))
        outputs.append(mask_regions(small, np.asarray([box], np.float32), settings,
                                    np.random.default_rng(i)))
    src = write_video(tmp_path / "clip.mp4", [small] * 12)
    out = write_video(tmp_path / "out.mp4", outputs)
    v = verify_pair(src, out, plan, residual=False, metadata=False)
    assert [r.frame for r in v.reid] == [7]
    assert v.frames_checked == 4  # 0, 5, 10 and the last: frame 7 was decoded for re-id only


def test_reid_choice_counts_a_face_once_whatever_boxes_lie_outside_its_track() -> None:
    """A video plan can hold confirmed regions outside every track: a second box of a
    tracked face, or an untracked face seen frame after frame. Each face is re-identified
    once (a 720p clip once re-identified 293 such regions, 2 s each, for two faces)."""
    from veil.plan.record import MediaInfo, Plan, Region
    from veil.settings import MaskSettings, ScanSettings
    from veil.verify.check import reid_choice

    plan = Plan(media=MediaInfo(name="v.mp4", sha256="0", kind="video", width=640,
                                height=360, frame_count=6),
                scan=ScanSettings(), mask=MaskSettings())
    for f in range(6):
        plan.add_region(f, Region(box=(10, 10, 90, 90), score=0.9, track_id=1))
        plan.add_region(f, Region(box=(14, 6, 96, 94), score=0.8))         # the same face
        plan.add_region(f, Region(box=(300 + f, 50, 360 + f, 110), score=0.9))  # untracked
    plan.add_region(3, Region(box=(500, 200, 560, 260), score=0.9))  # a face of one frame
    chosen = reid_choice(plan)
    assert sum(len(v) for v in chosen.values()) == 3
    assert chosen[3] >= {3}  # the lone face, at its one frame (position 3 there)


def _whole_frame_centerface_calls(monkeypatch) -> list[tuple[int, int]]:
    """Record the size of every frame CenterFace searches whole in the residual check."""
    from veil.verify.residual import ResidualFinder

    seen: list[tuple[int, int]] = []
    real = ResidualFinder._centerface

    def spy(self, frame):
        seen.append(frame.shape[:2])
        return real(self, frame)

    monkeypatch.setattr(ResidualFinder, "_centerface", spy)
    return seen


def test_a_photo_is_searched_whole_by_the_other_families_only(files, monkeypatch):
    """The photo's job searched every pixel with CenterFace at every zoom: the check
    searches the whole output with dlib HOG and YuNet (``PHOTO_FAMILIES``), and still
    finds the face a plan claims but the output shows."""
    seen = _whole_frame_centerface_calls(monkeypatch)
    v = verify_pair(files["original"], files["unmasked"], image_plan(), reid=False)
    full = np.asarray(Image.open(files["original"])).shape[:2]
    assert full not in seen  # CenterFace only ever looked at crops, if at all
    assert {f.detector for f in v.residual_faces} <= {"dlib-hog", "yunet"}
    assert v.checks["residual"] == "fail"


def test_a_video_frame_is_still_searched_whole_by_centerface(tmp_path, monkeypatch):
    """On a video's frames CenterFace keeps its whole-frame pass (it alone searches the
    frames sampled at track boundaries)."""
    seen = _whole_frame_centerface_calls(monkeypatch)
    small = np.asarray(Image.fromarray(astronaut()).resize((256, 256)))
    plan = Plan(MediaInfo("clip.mp4", "0" * 64, "video", 256, 256, frame_count=4, fps=10.0),
                mask=MaskSettings())
    src = write_video(tmp_path / "clip.mp4", [small] * 4)
    verify_pair(src, src, plan, reid=False, metadata=False)
    assert (256, 256) in seen


def _three_faces() -> tuple[np.ndarray, np.ndarray]:
    """A 1400x1800 picture with the astronaut three times: upright, turned 25 degrees,
    and cut by the top edge; and her face's box in each."""
    import cv2

    face = astronaut()
    canvas = np.full((1400, 1800, 3), 90, np.uint8)
    canvas[700:1212, 100:612] = face
    turn = cv2.warpAffine(face, cv2.getRotationMatrix2D((225.0, 118.0), 25, 1.0), (512, 512),
                          borderValue=(90, 90, 90))
    canvas[600:1112, 1000:1512] = turn
    canvas[0:400, 1200:1712] = face[112:512]
    w, h = FACE_BOX[2] - FACE_BOX[0], FACE_BOX[3] - FACE_BOX[1]
    boxes = np.asarray([
        [100 + FACE_BOX[0], 700 + FACE_BOX[1], 100 + FACE_BOX[2], 700 + FACE_BOX[3]],
        [1225 - w / 2 - 12, 718 - h / 2 - 8, 1225 + w / 2 + 12, 718 + h / 2 + 8],
        [1200 + FACE_BOX[0], 0, 1200 + FACE_BOX[2], FACE_BOX[3] - 112],
    ], np.float32)
    return canvas, boxes


def test_solid_references_are_exact_where_the_chip_is_cut():
    """The references of a frame's faces share one copy of the frame, exact inside each
    chip's window: every face's reference distance is the one of a reference of the whole
    picture, to the last bit (faces upright, turned, and at the picture's edge)."""
    from veil.render.masks import coverage_mask
    from veil.verify.check import _reference, _References
    from veil.verify.recognition import reid_check

    original, boxes = _three_faces()
    shape = MaskSettings()
    output = mask_regions(original, boxes[:2], MaskSettings(method="blur", blur_ratio=0.05,
                                                              noise=0))
    masked = coverage_mask(original.shape[:2], boxes[:2], shape)  # the third is not masked
    shared = _References(original, masked, shape)
    for box in boxes:
        whole = reid_check(original, output, box, 10.0,
                           lambda window, box=box: _reference(original, masked, box, shape))
        windowed = reid_check(original, output, box, 10.0, lambda window, box=box:
                              shared(box, window))
        assert whole[1] is not None and whole == windowed


def test_a_repair_round_does_not_embed_the_same_chips_again(files, monkeypatch):
    """Verifying the same original again (a repair round) takes the embeddings of the chips
    that did not change from the memo: the same distances, no new ResNet run; another
    original starts afresh."""
    from veil.verify import recognition

    calls: list[int] = []
    real = recognition._embed

    def counting(resnet, chip):
        calls.append(1)
        return real(resnet, chip)

    monkeypatch.setattr(recognition, "_embed", counting)
    recognition.memo_for(object())  # start from an empty memo
    first = verify_pair(files["original"], files["weak"], image_plan(WEAK))
    made = len(calls)
    assert made >= 2 and first.reid
    again = verify_pair(files["original"], files["weak"], image_plan(WEAK))
    assert len(calls) == made
    assert [r.to_dict() for r in again.reid] == [r.to_dict() for r in first.reid]
    recognition.memo_for("another original")
    verify_pair(files["original"], files["weak"], image_plan(WEAK))
    assert len(calls) == 2 * made


def test_a_repair_round_searches_only_what_changed(files, monkeypatch):
    """YuNet's detections of a photo's tiles and chips are kept while that photo is
    verified: verifying it again runs YuNet on no unchanged input; another photo does."""
    from veil.verify.check import _finder

    plan = image_plan()
    assert plan.scan == ScanSettings()  # so the spied finder is this plan's
    shown = photo_yunet_inputs(monkeypatch)
    _finder(plan.scan, True, True).remember(object())  # a photo's finder
    first = verify_pair(files["original"], files["masked"], plan)
    runs = len(shown)
    assert runs >= 1
    again = verify_pair(files["original"], files["masked"], plan)
    assert len(shown) == runs and again.to_dict()["residual_faces"] == \
        first.to_dict()["residual_faces"]
    other = image_plan()
    other.media = MediaInfo("other.png", "1" * 64, "image", 512, 512)
    verify_pair(files["original"], files["masked"], other)
    assert len(shown) == 2 * runs


def test_a_large_face_s_solid_reference_is_exact_too():
    """A face 3x the astronaut's (its chip shrunk from about 550 px to 150: dlib
    anti-aliases): the windowed reference gives the whole-picture one's distance."""
    import cv2

    from veil.render.masks import coverage_mask
    from veil.verify.check import _reference, _References
    from veil.verify.recognition import reid_check

    big = cv2.resize(astronaut(), (1536, 1536), interpolation=cv2.INTER_LINEAR)
    original = np.full((2200, 2600, 3), 90, np.uint8)
    original[300:1836, 900:2436] = big
    box = np.asarray([900 + 3 * FACE_BOX[0], 300 + 3 * FACE_BOX[1],
                      900 + 3 * FACE_BOX[2], 300 + 3 * FACE_BOX[3]], np.float32)
    other = np.asarray([100, 100, 300, 300], np.float32)
    shape = MaskSettings()
    boxes = np.stack([box, other])
    output = mask_regions(original, boxes, MaskSettings(blur_ratio=0.05, noise=0))
    masked = coverage_mask(original.shape[:2], boxes, shape)
    whole = reid_check(original, output, box, 10.0,
                       lambda window: _reference(original, masked, box, shape))
    windowed = reid_check(original, output, box, 10.0,
                          lambda window: _References(original, masked, shape)(box, window))
    assert whole[1] is not None and whole == windowed
