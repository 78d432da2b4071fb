"""Proof-of-delivery files: a driver's photo of the doorstep, the recipient's signature.

A file's type is read from its first bytes, not from what the client says it is: photos are
JPEG, PNG or WebP, signatures PNG (a drawn signature exported by the driver's app). Anything
else, an empty file or one over the size limit is refused with the field named, and nothing
is stored. A stop event cites an upload by id (``photo_id``, ``signature_id``); uploads are the
uploading carrier's and no one else's.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from wms.errors import NotFound, RuleViolation
from wms.models import Upload, UploadKind, utcnow

#: The default ceiling of one file (``WMS_CARRIER_UPLOAD_MAX_BYTES``).
MAX_BYTES = 5 * 1024 * 1024

#: Content types by their signature bytes.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"WEBP", 8, "image/webp"),  # after "RIFF" and the length
)

ALLOWED = {
    UploadKind.PHOTO: ("image/jpeg", "image/png", "image/webp"),
    UploadKind.SIGNATURE: ("image/png",),
}


def sniff(data: bytes) -> str | None:
    """The image type the bytes are, or None."""
    for magic, offset, content_type in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            if content_type == "image/webp" and not data.startswith(b"RIFF"):
                continue
            return content_type
    return None


def store(
    session: Session,
    *,
    carrier_id: int,
    kind: UploadKind | str,
    data: bytes,
    max_bytes: int = MAX_BYTES,
) -> Upload:
    """Keep a carrier's proof-of-delivery file after checking its kind, type and size."""
    try:
        kind = UploadKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in UploadKind)
        raise RuleViolation(f"kind must be one of {allowed}", field="kind") from None
    if not data:
        raise RuleViolation("the file is empty", field="file")
    if len(data) > max_bytes:
        raise RuleViolation(
            f"the file is {len(data):,} bytes; at most {max_bytes:,} are taken", field="file"
        )
    content_type = sniff(data)
    allowed_types = ALLOWED[kind]
    if content_type not in allowed_types:
        found = content_type or "not an image this API takes"
        raise RuleViolation(
            f"a {kind.value} must be {' or '.join(allowed_types)}; this file is {found}",
            field="file",
        )
    upload = Upload(
        carrier_id=carrier_id,
        kind=kind,
        content_type=content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        created_at=utcnow(),
    )
    session.add(upload)
    session.flush()
    return upload


def get_for_carrier(session: Session, upload_id: int, carrier_id: int) -> Upload:
    """A carrier's upload; another carrier's is as unknown as one that does not exist."""
    upload = session.get(Upload, upload_id)
    if upload is None or upload.carrier_id != carrier_id:
        raise NotFound(f"upload {upload_id} does not exist")
    return upload
