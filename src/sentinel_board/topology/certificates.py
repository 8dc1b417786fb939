"""`up --tls`: a CA of the run dir's own, and one certificate for every node it signs.

cryptography is the `tls` extra: imported when certificates are made, so that the server
(which only reads them) runs without it.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sentinel_board.extras import require
from sentinel_board.topology.credentials import write_private
from sentinel_board.topology.layout import is_hostname

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

VALID_FOR = datetime.timedelta(days=365)


@dataclass(frozen=True)
class TLSFiles:
    ca: Path  # what clients verify the nodes with
    cert: Path  # the nodes' certificate (also their client certificate, to each other)
    key: Path

    @classmethod
    def in_dir(cls, run_dir: Path) -> TLSFiles:
        folder = run_dir / "tls"
        return cls(folder / "ca.crt", folder / "node.crt", folder / "node.key")

    def exist(self) -> bool:
        return self.ca.exists() and self.cert.exists() and self.key.exists()


def _name(common_name: str) -> x509.Name:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def create(files: TLSFiles, hosts: list[str]) -> None:
    """A new CA, and a certificate it signs for `hosts` (IP addresses or names)."""
    require("tls")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ca_usage = x509.KeyUsage(
        digital_signature=False, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True,
        crl_sign=True, encipher_only=False, decipher_only=False,
    )  # fmt: skip
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("sentinel-board local CA"))
        .issuer_name(_name("sentinel-board local CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ca_usage, critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for host in dict.fromkeys(hosts):
        if is_hostname(host):
            names.append(x509.DNSName(host))
        else:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("sentinel-board node"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files.ca.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_private(files.key, _pem(key))
    # The CA's key signs nothing more: it is not kept, so nobody can mint another certificate.
