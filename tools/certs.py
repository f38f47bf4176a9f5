#!/usr/bin/env python3
"""Writes the root certificates Blynk Cloud's servers chain to, as DER files for a board.

Blynk's own device library pins three roots for its cloud (shared/spec/platform-facts.md): ISRG
Root X1, Amazon Root CA 1 and DigiCert Global Root G2. This tool picks them by name out of the
`certifi` package's Mozilla CA bundle (or --bundle PEM), checks each one's SHA-256 fingerprint,
and writes one DER file per root (the board loads each with one load_verify_locations call):

    python tools/certs.py --out firmware/certs
    -> isrg-root-x1.der  amazon-root-ca-1.der  digicert-global-root-g2.der

It exits with status 1 and names the missing root when the bundle lacks one (or holds a
certificate by that name whose fingerprint differs), and writes nothing in that case.

With --der PEM it converts another server's certificates instead (your own server's CA, say):
each certificate of the PEM file becomes a DER file in --out, NAME.der for a file holding one,
NAME-1.der, NAME-2.der ... for several (NAME: the PEM file's name without its extension):

    python tools/certs.py --der my-ca.pem --out firmware/certs
"""

import argparse
import os
import sys
import warnings

CERTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware", "certs")

# (file name, subject common name, subject organization, SHA-256 fingerprint of the DER)
ROOTS = (
    (
        "isrg-root-x1.der",
        "ISRG Root X1",
        "Internet Security Research Group",
        "96bcec06264976f37460779acf28c5a7cfe8a3c0aae11a8ffcee05c0bddf08c6",
    ),
    (
        "amazon-root-ca-1.der",
        "Amazon Root CA 1",
        "Amazon",
        "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
    ),
    (
        "digicert-global-root-g2.der",
        "DigiCert Global Root G2",
        "DigiCert Inc",
        "cb3ccbb76031e5e0138f8dd39a23f9de47ffc35e43c1144cea27d46a5ab1cb5f",
    ),
)

_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"


def _pem_blocks(data):
    # Each certificate of a PEM bundle on its own, so one odd entry cannot hide the others.
    start = 0
    for _ in range(100000):
        i = data.find(_BEGIN, start)
        if i < 0:
            return
        j = data.find(_END, i)
        if j < 0:
            return
        yield data[i : j + len(_END)]
        start = j + len(_END)


def _attr(name, oid):
    attrs = name.get_attributes_for_oid(oid)
    return attrs[0].value if attrs else None


def find_roots(bundle_pem):
    """Returns ({file name: DER bytes}, [problems]) for the three roots found in a PEM bundle."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    wanted = {cn: (fname, org, fp) for fname, cn, org, fp in ROOTS}
    found, problems = {}, []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some bundle entries predate RFC 5280's serial-number rule
        for block in _pem_blocks(bundle_pem):
            try:
                cert = x509.load_pem_x509_certificate(block)
            except ValueError:
                continue
            cn = _attr(cert.subject, NameOID.COMMON_NAME)
            if cn not in wanted:
                continue
            fname, org, fp = wanted[cn]
            if _attr(cert.subject, NameOID.ORGANIZATION_NAME) != org:
                continue
            if cert.fingerprint(hashes.SHA256()).hex() != fp:
                problems.append("%s: found, but its SHA-256 fingerprint is not the expected %s" % (cn, fp))
                continue
            found[fname] = cert.public_bytes(Encoding.DER)
    for fname, cn, _, _ in ROOTS:
        if fname not in found and not any(p.startswith(cn + ":") for p in problems):
            problems.append("%s: not in the bundle" % cn)
    return found, problems


def pem_to_der(pem):
    """The DER bytes of each certificate of a PEM file, in order; ValueError for one that does not parse."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return [x509.load_pem_x509_certificate(block).public_bytes(Encoding.DER) for block in _pem_blocks(pem)]


def _write(path, data):
    with open(path + ".new", "wb") as f:
        f.write(data)
    os.replace(path + ".new", path)
    print(path)


def _write_all(out, files):
    # files: [(file name, DER bytes)] into the folder out, made if missing -> exit status; a folder
    # that cannot be made or written is one line naming it, not a traceback
    try:
        os.makedirs(out, exist_ok=True)
        for fname, der in files:
            _write(os.path.join(out, fname), der)
    except OSError as e:
        print("certs: --out %s: cannot write there (%s)" % (out, e.strerror or e), file=sys.stderr)
        return 1
    return 0


def _convert(pem_path, out):
    try:
        with open(pem_path, "rb") as f:
            ders = pem_to_der(f.read())
    except (OSError, ValueError) as e:
        print("certs: cannot convert %s: %s" % (pem_path, e), file=sys.stderr)
        return 1
    if not ders:
        print("certs: no certificate in %s" % pem_path, file=sys.stderr)
        return 1
    name = os.path.splitext(os.path.basename(pem_path))[0]
    return _write_all(
        out, [(name + (".der" if len(ders) == 1 else "-%d.der" % (i + 1)), der) for i, der in enumerate(ders)]
    )


def default_bundle():
    try:
        import certifi
    except ImportError:
        return None
    return certifi.where()


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Write Blynk Cloud's root certificates (ISRG Root X1, Amazon Root CA 1, DigiCert Global "
        "Root G2) as DER files for a board, picked by name from certifi's CA bundle."
    )
    ap.add_argument(
        "--out", default=CERTS, help="output folder (default: this checkout's firmware/certs, wherever it is run from)"
    )
    ap.add_argument("--bundle", default=None, help="PEM bundle to pick from (default: certifi's cacert.pem)")
    ap.add_argument("--der", metavar="PEM", default=None, help="convert this PEM file's certificates to DER instead")
    args = ap.parse_args(argv)
    if args.der:
        return _convert(args.der, args.out)
    bundle = args.bundle or default_bundle()
    if bundle is None:
        print("certs: the certifi package is not installed; give --bundle PEM", file=sys.stderr)
        return 1
    try:
        with open(bundle, "rb") as f:
            data = f.read()
    except OSError as e:
        print("certs: cannot read the bundle %s: %s" % (bundle, e), file=sys.stderr)
        return 1
    found, problems = find_roots(data)
    if problems:
        for p in problems:
            print("certs: missing root: " + p, file=sys.stderr)
        print("certs: nothing written (bundle %s)" % bundle, file=sys.stderr)
        return 1
    return _write_all(args.out, [(fname, found[fname]) for fname, _, _, _ in ROOTS])


if __name__ == "__main__":
    sys.exit(main())
