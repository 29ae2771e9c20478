"""XML rendering against golden strings, and safe parsing of hostile request bodies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.errors import S3Error
from gateway.s3xml import Doc, esc, iso8601, parse_complete_multipart, parse_delete, parse_tagging


def test_doc__golden_copy_result():
    ts = datetime(2009, 10, 12, 17, 50, 30, 123000, tzinfo=UTC)
    doc = Doc("CopyObjectResult").leaf("ETag", '"9b2cf535f27731c974343645a3985328"')
    doc.leaf("LastModified", iso8601(ts))
    assert doc.render().decode() == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<CopyObjectResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>"
        "<LastModified>2009-10-12T17:50:30.123Z</LastModified></CopyObjectResult>"
    )


def test_esc__special_and_control_characters():
    assert esc("a&b<c>d\"e'f") == "a&amp;b&lt;c&gt;d&quot;e&apos;f"
    assert esc("x\x01y") == "x&#x1;y"
    assert esc("plain/key") == "plain/key"


def test_parse_delete__quiet_and_keys():
    body = (
        b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>'
        b"<Object><Key>a</Key></Object><Object><Key>b &amp; c</Key></Object></Delete>"
    )
    assert parse_delete(body) == (["a", "b & c"], True)


def test_parse_delete__1001_keys_is_malformed():
    body = b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1001 + b"</Delete>"
    with pytest.raises(S3Error) as ei:
        parse_delete(body)
    assert ei.value.code == "MalformedXML"


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b"<Delete><Object><Key>&b;</Key></Object></Delete>",
        b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&x;</Key>'
        b"</Object></Delete>",
        b"<Delete><Object><Key>unterminated",
        b"",
        b"<Other/>",
        b"x" * (3 * 1024 * 1024),
    ],
)
def test_parse_delete__hostile_bodies_are_malformed_xml(body):
    with pytest.raises(S3Error) as ei:
        parse_delete(body)
    assert ei.value.code == "MalformedXML"


def test_parse_complete__parts_in_order_with_checksums():
    body = (
        b'<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"e1"</ETag>'
        b"<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part><Part><PartNumber>2</PartNumber>"
        b"<ETag>e2</ETag></Part></CompleteMultipartUpload>"
    )
    assert parse_complete_multipart(body) == [(1, '"e1"', {"CRC32": "AAAAAA=="}), (2, "e2", {})]


def test_parse_tagging__limits():
    tags = "".join(f"<Tag><Key>k{i}</Key><Value>v</Value></Tag>" for i in range(11))
    with pytest.raises(S3Error) as ei:
        parse_tagging(f"<Tagging><TagSet>{tags}</TagSet></Tagging>".encode())
    assert ei.value.code == "InvalidTag"
    ok = parse_tagging(
        b"<Tagging><TagSet><Tag><Key>a</Key><Value></Value></Tag></TagSet></Tagging>"
    )
    assert ok == [("a", "")]


def test_deeply_nested_xml_does_not_recurse():
    body = (
        b"<Delete>" + b"<x>" * 50000 + b"</x>" * 50000 + b"<Object><Key>k</Key></Object></Delete>"
    )
    assert parse_delete(body) == (["k"], False)
