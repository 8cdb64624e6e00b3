"""The demo server's certificates: a CA made for one run and a leaf for 127.0.0.1 and localhost, built
with ``cryptography`` (a dependency of the package), so ``dex-tui demo-server`` works from a plain
install.

The CA is trusted nowhere but where its PEM file is given (``--ca-bundle``); its private key never
leaves memory. The leaf's key is written next to its certificate in the server's private folder
(0700) because ``ssl`` loads a certificate chain only from files.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dex_tui.records import dataclass

CA_NAME = "dex-tui demo CA (not trusted anywhere else)"
_VALID_BEFORE = datetime.timedelta(hours=1)  # a clock a little behind still accepts it
_VALID_FOR = datetime.timedelta(days=7)


@dataclass(frozen=True)
class DemoCertificates:
    """Where the files are: the CA certificate (PEM, for clients) and the leaf's chain and key (for the
    server)."""

    ca_file: Path
    leaf_chain_file: Path
    leaf_key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dex-tui demo"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _private_write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def issue_demo_certificates(folder: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
                            *, now: datetime.datetime | None = None) -> DemoCertificates:
    """Create a fresh CA and a server certificate for ``hosts`` (IP addresses and DNS names) in ``folder``,
    which must exist and be private to this user."""
    now = now or datetime.datetime.now(datetime.UTC)
    not_before, not_after = now - _VALID_BEFORE, now + _VALID_FOR
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(CA_NAME)
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0])).issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    files = DemoCertificates(folder / "demo-ca.pem", folder / "demo-server-chain.pem",
                             folder / "demo-server-key.pem")
    _private_write(files.ca_file, ca_cert.public_bytes(pem))
    _private_write(files.leaf_chain_file, leaf_cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    _private_write(files.leaf_key_file, leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption()))
    return files
