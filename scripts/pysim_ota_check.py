"""Check `smsr trace decrypt --json`'s SCP80 and PoR layers with osmocom/pySim's OTA code.

Run by scripts/pysim-ota-check.sh; usable alone:

    python3 scripts/pysim_ota_check.py --pysim PYSIM --trace T.jsonl --keylog K.keys \
        --decrypted D.jsonl

where D.jsonl is `smsr trace decrypt T.jsonl --keylog K.keys --json`. For every SMS-PP
download ENVELOPE in the trace the SMS-DELIVER and its user data header are read with
pySim.sms (SMS_DELIVER, UserDataHeader), concatenated parts are joined, and the command packet
is opened twice: with pySim.ota.OtaDialectSms.decode_cmd (deciphers, verifies the CC, strips the
padding) and with plain pycryptodomex (AES-CBC with KIc and a zero IV, AES-CMAC with KID over
CPL..TAR, counter, padding count and data with its padding: ETSI TS 102 225 §5.1), which also
gives the counter and padding count decode_cmd does not return. Every PoR (the ENVELOPE's
response data, or the GET RESPONSE's after 61xx) is decoded with OtaDialectSms.decode_resp,
with the SPI of its command packet. Both are compared with the `scp80` and `por` layers smsr
printed at the same exchange. Exit 0 when everything agrees, 1 otherwise.
"""

import argparse
import json
import re
import sys


def fail_usage(msg):
    print("pysim_ota_check: " + msg, file=sys.stderr)
    sys.exit(2)


def tlvs(data):
    """Simple BER-TLV walk (one-byte tags, as in an ENVELOPE's simple TLVs)."""
    i = 0
    while i < len(data):
        tag = data[i]
        i += 1
        ln = data[i]
        i += 1
        if ln == 0x81:
            ln = data[i]
            i += 1
        elif ln == 0x82:
            ln = int.from_bytes(data[i:i + 2], "big")
            i += 2
        yield tag, data[i:i + ln]
        i += ln


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pysim", required=True, help="a checkout of osmocom/pysim")
    ap.add_argument("--trace", required=True, help="smsr --trace JSON Lines file")
    ap.add_argument("--keylog", required=True, help="smsr --keylog file (SCP80 lines)")
    ap.add_argument("--decrypted", required=True,
                    help="output of `smsr trace decrypt TRACE --keylog KEYLOG --json`")
    args = ap.parse_args()

    sys.path.insert(0, args.pysim)
    try:
        from pySim.ota import OtaKeyset, OtaDialectSms, OtaCheckError, KIC, KID_CC
        from pySim.sms import SMS_DELIVER, UserDataHeader
        from Cryptodome.Cipher import AES
        from Cryptodome.Hash import CMAC
    except ImportError as e:
        fail_usage("cannot import pySim's OTA code from %s with %s: %s (install its "
                   "requirements.txt in this Python)" % (args.pysim, sys.executable, e))

    # Key log: SCP80 <TAR> <KVN> <KIc byte> <KIc> <KID byte> <KID>
    keys = {}
    for line in open(args.keylog):
        f = line.split()
        if len(f) == 7 and f[0] == "SCP80":
            tar, _kvn, kic_b, kic, kid_b, kid = f[1:]
            kic_d = KIC.parse(bytes.fromhex(kic_b))
            kid_d = KID_CC.parse(bytes.fromhex(kid_b))
            ks = (str(kic_d["algo"]), kic_d["key"], kic, str(kid_d["algo"]), kid_d["key"], kid)
            keys.setdefault(tar.upper(), [])
            if ks not in keys[tar.upper()]:
                keys[tar.upper()].append(ks)
    if not keys:
        fail_usage("no SCP80 line in %s" % args.keylog)

    def keysets(tar):
        return [OtaKeyset(algo_crypt=a, kic_idx=ki, kic=bytes.fromhex(kc), algo_auth=b,
                          kid_idx=di, kid=bytes.fromhex(kd))
                for (a, ki, kc, b, di, kd) in keys.get(tar.hex().upper(), [])]

    # The trace's exchanges, and smsr's view of each: `trace decrypt --json` prints one
    # object per exchange, in trace order (connect/reset/disconnect events have none).
    exchanges = [json.loads(l) for l in open(args.trace) if l.strip()]
    exchanges = [x for x in exchanges if "c_apdu" in x]
    decoded = [json.loads(l) for l in open(args.decrypted) if l.strip()]
    problems = []
    if len(decoded) != len(exchanges):
        print("pysim_ota_check: %d exchanges in the trace, %d objects from trace decrypt"
              % (len(exchanges), len(decoded)), file=sys.stderr)
        return 1
    for x, d in zip(exchanges, decoded):
        if x["seq"] != d["seq"]:
            print("pysim_ota_check: trace seq %s against decrypt seq %s" % (x["seq"], d["seq"]),
                  file=sys.stderr)
            return 1

    def smsr_layer(idx, name):
        found = [l for l in decoded[idx].get("layers", []) if l["layer"] == name]
        return found[0] if len(found) == 1 else None

    dialect = OtaDialectSms()
    n_packets = n_pors = 0
    parts = {}  # concatenation reference -> {part number: (UDH, user data after it)}
    i = 0
    while i < len(exchanges):
        x = exchanges[i]
        c = bytes.fromhex(x["c_apdu"])
        r = bytes.fromhex(x["r_apdu"])
        if c[:4] != b"\x80\xc2\x00\x00" or len(c) < 7 or c[5] != 0xD1:
            i += 1
            continue
        where = "seq %d" % x["seq"]
        body = dict(tlvs(c[5:]))[0xD1]
        inner = dict((t & 0x7F, v) for t, v in tlvs(body))
        if inner.get(0x02) != b"\x83\x81":
            problems.append("%s: ENVELOPE device identities %s, not 8381"
                            % (where, inner.get(0x02, b"").hex()))
            i += 1
            continue
        tpdu = inner.get(0x0B)
        if tpdu is None:
            problems.append("%s: ENVELOPE without an SMS TPDU (tag 0B/8B)" % where)
            i += 1
            continue
        sms = SMS_DELIVER.from_bytes(tpdu)
        if not sms.tp_udhi:
            problems.append("%s: SMS-DELIVER without a user data header" % where)
            i += 1
            continue
        udh, ud = UserDataHeader.from_bytes(sms.tp_ud)
        concat = [ie for ie in udh.ies if ie["iei"] == 0x00]
        if concat:
            ref, total, seq = concat[0]["value"]
            parts.setdefault(ref, {})[seq] = (udh, ud)
            if len(parts[ref]) < total:
                i += 1
                continue
            got = parts.pop(ref)
            chunks = [got[s] for s in range(1, total + 1)]
            udh = chunks[0][0]
            ud = b"".join(u for _, u in chunks)
        if not udh.has_ie(0x70):
            problems.append("%s: no command packet IEI 70 in the UDH %r" % (where, udh))
            i += 1
            continue
        packet = ud
        n_packets += 1

        # The PoR: the ENVELOPE's response data, or the GET RESPONSE's after 61xx; smsr
        # shows both layers at the exchange that brought the response back.
        at = i
        por = r[:-2]
        if r[-2] == 0x61 and i + 1 < len(exchanges):
            at = i + 1
            g = bytes.fromhex(exchanges[at]["r_apdu"])
            por = g[:-2]
        where = "seq %d" % exchanges[at]["seq"]

        # Clear header: CPL(2) CHL(1) SPI(2) KIc(1) KID(1) TAR(3)
        cpl = int.from_bytes(packet[:2], "big")
        chl = packet[2]
        spi_raw, tar = packet[3:5], packet[7:10]
        spi = dialect.hdr_construct.parse(packet[2:10])["spi"]
        if cpl != len(packet) - 2:
            problems.append("%s: CPL %d, packet has %d bytes after it" % (where, cpl, len(packet) - 2))
        s80 = smsr_layer(at, "scp80")
        if s80 is None or "plain" not in s80:
            problems.append("%s: smsr printed no opened scp80 layer here" % where)
            i = at + 1
            continue
        smsr_plain = bytes.fromhex(s80["plain"])
        m = re.search(r"SPI ([0-9A-F]{4}), KIc ([0-9A-F]{2}), KID ([0-9A-F]{2}), TAR ([0-9A-F]{6}), "
                      r"counter ([0-9A-F]{10})", s80["text"])
        if not m:
            problems.append("%s: smsr's scp80 text not understood: %s" % (where, s80["text"]))
            i = at + 1
            continue
        if (m.group(1), m.group(2), m.group(3), m.group(4)) != (
                spi_raw.hex().upper(), "%02X" % packet[5], "%02X" % packet[6], tar.hex().upper()):
            problems.append("%s: smsr's header %s, the packet's SPI %s KIc %02X KID %02X TAR %s"
                            % (where, m.group(0), spi_raw.hex().upper(), packet[5], packet[6],
                               tar.hex().upper()))
        smsr_counter = int(m.group(5), 16)

        # 1) pySim's decode_cmd (deciphers unconditionally, verifies an 8-byte CC).
        opened = None
        for otak in keysets(tar):
            try:
                p_tar, _p_spi, apdu = dialect.decode_cmd(otak, packet)
            except OtaCheckError:
                continue
            opened = (otak, p_tar, apdu)
            break
        if opened is None:
            problems.append("%s: pySim decode_cmd: no logged key set for TAR %s verifies the CC"
                            % (where, tar.hex().upper()))
            i = at + 1
            continue
        otak, p_tar, apdu = opened
        if p_tar != tar or apdu != smsr_plain:
            problems.append("%s: pySim decode_cmd gives TAR %s data %s; smsr's plain %s"
                            % (where, p_tar.hex(), apdu.hex().upper(), smsr_plain.hex().upper()))

        pkt_counter = smsr_counter
        # 2) The same by hand with pycryptodomex (TS 102 225 §5.1: IV zero, CC over the
        #    header, counter, padding count and the data with its padding).
        if otak.algo_crypt != "aes_cbc" or otak.algo_auth != "aes_cmac":
            problems.append("%s: key set is %s/%s: the direct check covers AES only"
                            % (where, otak.algo_crypt, otak.algo_auth))
        else:
            plain = AES.new(otak.kic, AES.MODE_CBC, bytes(16)).decrypt(packet[10:])
            counter = pkt_counter = int.from_bytes(plain[:5], "big")
            pcntr = plain[5]
            cc_len = chl - 13
            cc, data = plain[6:6 + cc_len], plain[6 + cc_len:]
            mac = CMAC.new(otak.kid, ciphermod=AES)
            mac.update(packet[:10] + plain[:6] + data)
            want_cc = mac.digest()[:cc_len]
            data = data[:len(data) - pcntr]
            if cc != want_cc:
                problems.append("%s: CC in the packet %s, AES-CMAC(KID) gives %s"
                                % (where, cc.hex().upper(), want_cc.hex().upper()))
            if data != smsr_plain:
                problems.append("%s: AES-CBC(KIc) gives data %s; smsr's plain %s"
                                % (where, data.hex().upper(), smsr_plain.hex().upper()))
            if counter != smsr_counter:
                problems.append("%s: counter %010X in the packet, smsr says %010X"
                                % (where, counter, smsr_counter))
        line = ("%s packet TAR %s SPI %s counter %010X, %d bytes, %d data bytes: decode_cmd CC ok"
                % (where, tar.hex().upper(), spi_raw.hex().upper(), pkt_counter, len(packet),
                   len(smsr_plain)))

        # 3) The PoR, with pySim's decode_resp and the command packet's SPI.
        spor = smsr_layer(at, "por")
        if spi["por"] == "no_por" and not por:
            print(line + "; no PoR asked for")
            i = at + 1
            continue
        if not por:
            problems.append("%s: no PoR in the answer" % where)
            i = at + 1
            continue
        n_pors += 1
        por_spi = spi
        unsecured = len(por) > 5 and por[5] == 0x0A  # RHL 0A: no CC, not ciphered
        if unsecured:
            por_spi = dict(spi)
            por_spi["por_shall_be_ciphered"] = False
            por_spi["por_rc_cc_ds"] = "no_rc_cc_ds"
        try:
            res, _compact = dialect.decode_resp(otak, por_spi, por)
        except Exception as e:  # OtaCheckError, construct errors
            problems.append("%s: pySim decode_resp failed on %s: %s" % (where, por.hex().upper(), e))
            i = at + 1
            continue
        status = int(res["response_status"])
        p_counter = int.from_bytes(res["cntr"], "big")
        p_data = bytes(res["secured_data"])
        if spor is None:
            problems.append("%s: smsr printed no por layer here" % where)
            i = at + 1
            continue
        m = re.search(r"PoR for TAR ([0-9A-F]{6})(, sent unsecured)?: status ([0-9A-F]{2})"
                      r"(?: \(\w+\))?(?:, counter ([0-9A-F]{10}))?", spor["text"])
        if not m:
            problems.append("%s: smsr's por text not understood: %s" % (where, spor["text"]))
            i = at + 1
            continue
        s_data = bytes.fromhex(spor.get("plain", ""))
        if m.group(1) != res["tar"].hex().upper():
            problems.append("%s: PoR TAR: pySim %s, smsr %s" % (where, res["tar"].hex(), m.group(1)))
        if int(m.group(3), 16) != status:
            problems.append("%s: PoR status: pySim %02X (%s), smsr %s"
                            % (where, status, res["response_status"], m.group(3)))
        if m.group(4) is not None and int(m.group(4), 16) != p_counter:
            problems.append("%s: PoR counter: pySim %010X, smsr %s" % (where, p_counter, m.group(4)))
        if not unsecured and p_counter != pkt_counter:
            problems.append("%s: PoR counter %010X is not the packet's %010X"
                            % (where, p_counter, pkt_counter))
        if not unsecured and p_data != s_data:
            problems.append("%s: PoR data: pySim %s, smsr %s"
                            % (where, p_data.hex().upper(), s_data.hex().upper()))
        print(line + "; PoR status %02X (%s)%s counter %010X, %d data bytes: decode_resp %s"
              % (status, res["response_status"], " unsecured," if unsecured else ",", p_counter,
                 len(p_data), "read it" if unsecured else "CC ok"))
        i = at + 1

    for ref, got in parts.items():
        problems.append("concatenated SMS reference %d left incomplete (%d parts)" % (ref, len(got)))
    if n_packets == 0:
        problems.append("no SCP80 command packet in the trace")
    for p in problems:
        print("DISAGREE " + p)
    if problems:
        print("%d packets, %d PoRs: %d disagreement(s)" % (n_packets, n_pors, len(problems)))
        return 1
    print("%d packets, %d PoRs: all agree" % (n_packets, n_pors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
