# cpython-only: it runs the host tool tools/certs.py, which needs cryptography and certifi.
# tools/certs.py: Blynk Cloud's three roots as DER files for a board, out of certifi's bundle.
import os
import subprocess
import sys

import certifi
from cryptography import x509
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(os.path.dirname(HERE), "tools", "certs.py")
EXPECTED = {
    "isrg-root-x1.der": "ISRG Root X1",
    "amazon-root-ca-1.der": "Amazon Root CA 1",
    "digicert-global-root-g2.der": "DigiCert Global Root G2",
}


def run(*args):
    return subprocess.run([sys.executable, TOOL] + list(args), capture_output=True, text=True, timeout=60)


def test_writes_three_parseable_der_roots_with_the_right_subjects(tmp_path):
    out = tmp_path / "certs"
    r = run("--out", str(out))
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(out)) == sorted(EXPECTED)
    for name, cn in EXPECTED.items():
        cert = x509.load_der_x509_certificate((out / name).read_bytes())
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cn
        assert cert.subject == cert.issuer  # a self-signed root


def test_fails_clearly_and_writes_nothing_when_a_root_is_missing(tmp_path):
    bundle = open(certifi.where(), "rb").read()
    start = bundle.index(b"# Issuer: CN=ISRG Root X1")
    end = bundle.index(b"-----END CERTIFICATE-----", start) + 25
    partial = tmp_path / "partial.pem"
    partial.write_bytes(bundle[:start] + bundle[end:])
    out = tmp_path / "certs"
    r = run("--out", str(out), "--bundle", str(partial))
    assert r.returncode == 1 and "ISRG Root X1" in r.stderr
    assert not out.exists()


def test_help_describes_the_tool():
    r = run("--help")
    assert r.returncode == 0 and "--out" in r.stdout


def test_the_default_folder_is_the_checkouts_firmware_certs_wherever_the_tool_runs(tmp_path):
    # (it was firmware/certs under the current folder: run from elsewhere, the board never got them)
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, %r); import certs; print(certs.CERTS)" % os.path.dirname(TOOL),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(tmp_path),
    )
    assert r.stdout.strip() == os.path.join(os.path.dirname(HERE), "firmware", "certs"), r.stdout + r.stderr


def _pem_of(names):
    # the PEM blocks of certifi's roots by common name, as one file's bytes
    bundle = open(certifi.where(), "rb").read()
    out = b""
    for cn in names:
        start = bundle.index(b"-----BEGIN CERTIFICATE-----", bundle.index(b"# Issuer: CN=" + cn.encode()))
        out += bundle[start : bundle.index(b"-----END CERTIFICATE-----", start) + 25] + b"\n"
    return out


def test_der_converts_a_pem_file_of_one_certificate_to_name_der(tmp_path):
    pem = tmp_path / "my-ca.pem"
    pem.write_bytes(_pem_of(["ISRG Root X1"]))
    r = run("--der", str(pem), "--out", str(tmp_path / "certs"))
    assert r.returncode == 0, r.stderr
    cert = x509.load_der_x509_certificate((tmp_path / "certs" / "my-ca.der").read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "ISRG Root X1"


def test_der_numbers_the_files_of_a_pem_file_of_several_certificates(tmp_path):
    pem = tmp_path / "chain.pem"
    pem.write_bytes(_pem_of(["ISRG Root X1", "Amazon Root CA 1"]))
    r = run("--der", str(pem), "--out", str(tmp_path / "certs"))
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "certs")) == ["chain-1.der", "chain-2.der"]


def test_der_of_a_file_without_a_certificate_fails_and_writes_nothing(tmp_path):
    pem = tmp_path / "empty.pem"
    pem.write_bytes(b"not a certificate\n")
    r = run("--der", str(pem), "--out", str(tmp_path / "certs"))
    assert r.returncode == 1 and "no certificate" in r.stderr and not (tmp_path / "certs").exists()


def test_an_out_folder_that_cannot_be_made_is_one_line_naming_it(tmp_path):
    (tmp_path / "file").write_text("")
    r = run("--out", str(tmp_path / "file" / "certs"))
    assert r.returncode == 1 and r.stderr.startswith("certs: --out ") and "Traceback" not in r.stderr


def test_der_into_an_out_folder_that_cannot_be_made_is_one_line_naming_it(tmp_path):
    pem = tmp_path / "my-ca.pem"
    pem.write_bytes(_pem_of(["ISRG Root X1"]))
    (tmp_path / "file").write_text("")
    r = run("--der", str(pem), "--out", str(tmp_path / "file" / "certs"))
    assert r.returncode == 1 and r.stderr.startswith("certs: --out ") and "Traceback" not in r.stderr
