"""The desk's Vietnamese for what the dossiers record in English: states, times, the population-database findings,
the decision trail's details and the messages a replay reads from a history.

The workflows and the JSON API keep their English (the API pairs it with Vietnamese where it has one); the desk
shows every finding and trail detail through a ``Wording`` of its kind, which reads the English sentence the
domain wrote (for dossiers recorded long ago as for new ones) and says it in Vietnamese. Text an officer or a
citizen wrote (a reason, the papers named) is shown as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from domain.admin_units import commune
from domain.calendar import VN_TZ
from domain.kinds import Procedure
from domain.models import DossierState, TrailAction
from domain.procedures.catalogue import PROCEDURES
from domain.procedures.deletion import UNCONFIRMED_CASE_NOTE
from domain.procedures.permanent_residence_registration import (
    COMMUNE_COMMITTEE_NOTE,
    OVERSEAS_NOTE,
    RELATIONSHIP_PROOF_NOTE,
)
from workflows.lifecycle import UNENCRYPTED

STATE_LABELS: dict[str, str] = {
    DossierState.RECEIVED: "Mới tiếp nhận",
    DossierState.AWAITING_FILING: "Chờ công dân khai báo",
    DossierState.AWAITING_DECISION: "Chờ cán bộ xử lý",
    DossierState.AWAITING_SIGN_OFF: "Chờ lãnh đạo ký duyệt",
    DossierState.AWAITING_SUPPLEMENT: "Chờ bổ sung hồ sơ",
    DossierState.AWAITING_PAYMENT: "Chờ nộp lệ phí",
    DossierState.RECORDING: "Đang cập nhật CSDL cư trú",
    DossierState.DELIVERING: "Đang trả kết quả",
    DossierState.COMPLETED: "Đã hoàn thành",
    DossierState.REFUSED: "Đã từ chối",
    DossierState.CANCELLED: "Đã huỷ",
    DossierState.WITHDRAWN: "Công dân đã rút hồ sơ",
}



def procedure_name(procedure: str) -> str:
    spec = PROCEDURES.get(Procedure(procedure)) if procedure in Procedure.__members__.values() else None
    return spec.vietnamese_name if spec is not None else procedure


def vn_time(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y") + " (GMT+7)"


def vn_date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(VN_TZ).date()
    return value.strftime("%d/%m/%Y")




def _iso_time(text: str) -> str:
    return vn_time(datetime.fromisoformat(text))


def _iso_date(text: str) -> str:
    return vn_date(date.fromisoformat(text))


def _state(text: str) -> str:
    return STATE_LABELS.get(text, text)


def _commune(code: str) -> str:
    found = commune(code)
    return found.name if found is not None else f"mã {code}"


def _vnd(amount: str) -> str:
    return f"{int(amount):,}".replace(",", ".") + " đồng"


@dataclass(frozen=True)
class Wording:
    """One kind of English sentence the dossiers record (``pattern``, matched whole) and its Vietnamese."""

    kind: str
    pattern: re.Pattern[str]
    vietnamese: Callable[[re.Match[str]], str]

    def say(self, text: str) -> str | None:
        matched = self.pattern.fullmatch(text)
        return None if matched is None else self.vietnamese(matched)


def _wording(kind: str, pattern: str, vietnamese: Callable[[re.Match[str]], str]) -> Wording:
    return Wording(kind, re.compile(pattern, re.DOTALL), vietnamese)


def _fixed(kind: str, english: str, vietnamese: str) -> Wording:
    return _wording(kind, re.escape(english), lambda _: vietnamese)


_DATE, _ISO_DATE = r"\d\d/\d\d/\d{4}", r"\d{4}-\d\d-\d\d"
_LIFE = {"alive": "còn sống", "dead": "đã chết"}
_RECORD_KINDS = {"permanent": "Đăng ký thường trú", "temporary": "Đăng ký tạm trú",
                 "declared": "Khai báo nơi ở hiện tại"}

# What ``domain.facts.HouseholdFacts.findings`` and the procedures' notes write.
FINDINGS: tuple[Wording, ...] = (
    _wording("applicant",
             r"applicant in the population database: (?P<status>\w+), full civil capacity: (?P<cap>yes|no)",
             lambda m: f"Người đề nghị trong Cơ sở dữ liệu quốc gia về dân cư: {_LIFE.get(m['status'], m['status'])}, "
                       f"năng lực hành vi dân sự đầy đủ: {'có' if m['cap'] == 'yes' else 'không'}"),
    _wording("residence", r"residence #(?P<id>\d+): (?P<area>[\d.]+) m², (?P<occupants>\d+) registered occupant\(s\), "
                          r"owner (?P<owner>recorded|not recorded), barred: (?P<barred>.+)",
             lambda m: f"Chỗ ở số {m['id']}: diện tích sàn {m['area'].replace('.', ',')} m², "
                       f"{m['occupants']} người đang đăng ký cư trú, chủ sở hữu "
                       f"{'đã' if m['owner'] == 'recorded' else 'chưa'} được ghi nhận, hạn chế đăng ký: "
                       f"{'không' if m['barred'] == 'no' else m['barred']}"),
    _wording("current_permanent", r"current permanent residence #(?P<id>\d+)",
             lambda m: f"Nơi thường trú hiện tại: chỗ ở số {m['id']}"),
    _wording("record", rf"(?P<kind>permanent|temporary|declared) residence record #(?P<id>\d+) in commune "
                       rf"(?P<commune>\S+?)(?:, until (?P<until>{_ISO_DATE}))?",
             lambda m: f"{_RECORD_KINDS[m['kind']]} số {m['id']} tại {_commune(m['commune'])}"
                       + (f", đến ngày {_iso_date(m['until'])}" if m["until"] else "")),
    _wording("household", r"household #(?P<id>\d+): (?P<count>\d+) member\(s\)",
             lambda m: f"Hộ gia đình số {m['id']}: {m['count']} thành viên"),
    _wording("absence", rf"temporary absence declared until (?P<until>{_ISO_DATE})",
             lambda m: f"Đã khai báo tạm vắng đến ngày {_iso_date(m['until'])}"),
    _fixed("no_record", "no active residence record", "Không có đăng ký cư trú nào còn hiệu lực"),
    _wording("late_filing", rf"Filed on (?P<filed>{_DATE}), after the (?P<days>\d+)-day window that ended on "
                            rf"(?P<last>{_DATE}) \((?P<basis>.+)\); the change is still due and is made; the late "
                            r"filing is recorded\.",
             lambda m: f"Nộp ngày {m['filed']}, sau thời hạn {m['days']} ngày đã hết ngày {m['last']} "
                       f"({m['basis']}); việc thay đổi vẫn được thực hiện; việc nộp quá hạn được ghi nhận."),
    _wording("ex_officio", rf"Ex officio deletion: police notice (?P<number>.+) of (?P<on>{_DATE}); nothing was filed "
                           r"within the days allowed, deletion follows with minutes \(biên bản\)\.",
             lambda m: f"Xóa đăng ký theo thông báo số {m['number']} ngày {m['on']} của Công an: công dân không "
                       "nộp hồ sơ trong thời hạn, việc xóa được thực hiện kèm biên bản."),
    _fixed("unconfirmed_case", UNCONFIRMED_CASE_NOTE,
           "Trường hợp xóa đăng ký này chưa được bộ thủ tục hành chính công bố xác nhận: hãy kiểm tra căn cứ pháp "
           "lý."),
    _fixed("relationship_proof", RELATIONSHIP_PROOF_NOTE,
           "Cần giấy tờ chứng minh quan hệ nhân thân, trừ khi quan hệ đã có trong Cơ sở dữ liệu quốc gia về dân cư: "
           "hãy kiểm tra, hoặc yêu cầu bổ sung (CT05)."),
    _fixed("overseas", OVERSEAS_NOTE,
           "Người Việt Nam định cư ở nước ngoài không có hộ chiếu Việt Nam còn giá trị: tờ khai theo mẫu CT02, và "
           "phải có ý kiến đồng ý của Cục Quản lý xuất nhập cảnh, đề nghị qua Phòng Quản lý xuất nhập cảnh Công an "
           "cấp tỉnh trước khi quyết định."),
    _fixed("commune_committee", COMMUNE_COMMITTEE_NOTE,
           "Diện tích sàn kê khai khác với dữ liệu (hoặc chỗ ở chưa được ghi nhận): đề nghị Ủy ban nhân dân cấp xã "
           "xác nhận."),
    _wording("late_stay", r"Notified late: due by (?P<due>\d\d:\d\d \d\d/\d\d/\d{4}); accepted and recorded as late\.",
             lambda m: f"Thông báo lưu trú muộn: hạn là {m['due']} (GMT+7); đã tiếp nhận và ghi nhận là thông báo "
                       "muộn."),
)

_WHAT = {"decision": "Quyết định", "reassignment": "Việc phân công lại", "sign-off": "Ý kiến ký duyệt"}
_WHAT_PATTERN = "(?P<what>" + "|".join(map(re.escape, _WHAT)) + ")"

# Why a message to a dossier was refused (the workflows' checks, ``domain.envelopes``, ``activities.checks``).
REFUSALS: tuple[Wording, ...] = (
    _wording("not_waiting", r"dossier (?P<code>\S+) is (?P<state>\w+), not waiting for an officer's decision",
             lambda m: f"Hồ sơ {m['code']} đang ở trạng thái “{_state(m['state'])}”, không chờ cán bộ quyết định"),
    _wording("other_unit",
             r"officer (?P<officer>\S+) is not an officer of (?P<unit>\S+), the unit handling (?P<code>\S+)",
             lambda m: f"Cán bộ {m['officer']} không thuộc {m['unit']}, đơn vị giải quyết hồ sơ {m['code']}"),
    _wording("inactive", r"officer (?P<officer>\S+) is inactive and cannot decide",
             lambda m: f"Cán bộ {m['officer']} không còn công tác nên không được quyết định"),
    _wording("token_used", r"token (?P<token>\S+) was already used on dossier (?P<code>\S+): sign a new request",
             lambda m: f"Yêu cầu mang mã {m['token']} đã được dùng cho hồ sơ {m['code']}: cần gửi yêu cầu mới"),
    _fixed("no_message", "no message", "Không có nội dung"),
    _fixed("unencrypted", UNENCRYPTED,
           "Dữ liệu gửi đến không được mã hoá: hồ sơ chỉ được khởi tạo qua API của cutru hoặc DossierClient"),
    _wording("unsigned", rf"the {_WHAT_PATTERN} is not signed: send it through the cutru API, which signs it",
             lambda m: f"{_WHAT[m['what']]} chưa được ký: phải gửi qua API của cutru, nơi ký thông điệp"),
    _wording("unknown_key", rf"the {_WHAT_PATTERN} is signed with key (?P<key>.+), which this worker does not know",
             lambda m: f"{_WHAT[m['what']]} được ký bằng khóa {m['key']} mà máy xử lý không biết"),
    _wording("forged", rf"the {_WHAT_PATTERN}'s signature does not verify: it was altered or forged",
             lambda m: f"Chữ ký của {_WHAT[m['what']].lower()} không hợp lệ: nội dung đã bị sửa hoặc giả mạo"),
    _wording("other_dossier", rf"the {_WHAT_PATTERN} was signed for dossier (?P<signed>\S+), not (?P<code>\S+)",
             lambda m: f"{_WHAT[m['what']]} được ký cho hồ sơ {m['signed']}, không phải hồ sơ {m['code']}"),
    _wording("future", rf"the {_WHAT_PATTERN} is signed at (?P<at>\S+), in the future",
             lambda m: f"{_WHAT[m['what']]} mang thời điểm ký {_iso_time(m['at'])}, ở tương lai"),
    _wording("expired", rf"the {_WHAT_PATTERN} was signed at (?P<at>\S+) and has expired: send it again",
             lambda m: f"{_WHAT[m['what']]} ký lúc {_iso_time(m['at'])} đã hết hiệu lực: cần gửi lại"),
    _fixed("fee_paid", "the fee was already paid", "Lệ phí đã được nộp nên không rút được hồ sơ"),
    _fixed("too_late", "too late: the residence records are already committed",
           "Quá muộn: thông tin cư trú đã được cập nhật theo hồ sơ, hồ sơ tiếp tục đến khi trả kết quả"),
    _fixed("notice_withdrawal", "a dossier opened by a police notice cannot be withdrawn",
           "Hồ sơ mở theo thông báo của Công an không rút được"),
    _fixed("invalid_withdrawal", "the dossier's submission is not valid: there is nothing to withdraw",
           "Hồ sơ nộp không hợp lệ: không có gì để rút"),
    _fixed("withdrawal_id", "a withdrawal names the applicant's personal ID, as the portal verified it",
           "Yêu cầu rút hồ sơ phải ghi số định danh cá nhân của người nộp, như cổng dịch vụ công đã xác thực"),
    _fixed("not_applicant", "only the dossier's applicant can withdraw it", "Chỉ người nộp hồ sơ mới được rút hồ sơ"),
    _wording("not_notice", r"dossier (?P<code>\S+) is not a police notice waiting for the person's own filing",
             lambda m: f"Hồ sơ {m['code']} không phải thông báo của Công an đang chờ công dân tự nộp hồ sơ"),
    _wording("no_filing", r"no dossier (?P<code>\S+) was filed", lambda m: f"Không có hồ sơ {m['code']} nào được nộp"),
    _wording("own_notice", r"(?P<code>\S+) is the police notice's own dossier, not a filing",
             lambda m: f"{m['code']} là chính hồ sơ thông báo của Công an, không phải hồ sơ công dân nộp"),
    _wording("other_procedure", r"dossier (?P<code>\S+) is a (?P<filed>\w+), not a (?P<wanted>\w+)",
             lambda m: f"Hồ sơ {m['code']} là hồ sơ {procedure_name(m['filed'])}, không phải "
                       f"{procedure_name(m['wanted'])}"),
    _wording("other_person", r"dossier (?P<code>\S+) was not filed by the person the notice names",
             lambda m: f"Hồ sơ {m['code']} không do người được thông báo nộp"),
    _wording("message_budget", r"dossier (?P<code>\S+) has taken its (?P<budget>\d+) messages: it takes only those "
                               r"that move it on \(a decision, a sign-off, an operator's close\)",
             lambda m: f"Hồ sơ {m['code']} đã nhận đủ {m['budget']} tin nhắn: chỉ còn nhận tin nhắn giúp hồ sơ tiếp "
                       "tục (quyết định, ý kiến ký duyệt, quản trị viên đóng hồ sơ)"),
    _wording("not_a_filing", r"dossier (?P<code>\S+) is (?P<state>\w+): it does not stand for the person's filing",
             lambda m: f"Hồ sơ {m['code']} đang ở trạng thái “{_state(m['state'])}”, không được coi là hồ sơ công "
                       "dân tự nộp"),
)

# What the workflows write as each trail entry's detail, by the entry's action (``workflows.lifecycle``,
# ``workflows.procedures``, ``workflows.stay_register``); the refusals of messages are ``REFUSALS``.
TRAIL: dict[TrailAction, tuple[Wording, ...]] = {
    TrailAction.NOTICE_SERVED: (_wording("notice", rf"notice (?P<number>.+) of (?P<on>{_ISO_DATE})",
                                         lambda m: f"Thông báo số {m['number']} ngày {_iso_date(m['on'])}"),),
    TrailAction.ACCEPTED: (_wording("appointment", r"appointment (?P<at>\S+)",
                                    lambda m: f"Hẹn trả kết quả: {_iso_time(m['at'])}"),),
    TrailAction.REASSIGNED: (_wording("reassigned", r"to (?P<officer>\S+): (?P<reason>.*)",
                                      lambda m: f"Giao cho {m['officer']}: {m['reason']}"),),
    TrailAction.REMINDER_SENT: (_wording("reminder", r"deadline (?P<at>\S+)",
                                         lambda m: f"Hạn xử lý: {_iso_time(m['at'])}"),),
    TrailAction.ESCALATED: (_wording("escalated", r"deadline passed: escalated to supervisor (?P<supervisor>\S+)",
                                     lambda m: "Đã quá hạn xử lý, báo lãnh đạo đơn vị"
                                               + ("" if m["supervisor"] == "None" else f" ({m['supervisor']})")),),
    TrailAction.SIGNED_OFF: (_wording("signed_off", r"(?P<signer>.+); proposed by (?P<officer>\S+)",
                                      lambda m: f"{m['signer']}; cán bộ đề xuất: {m['officer']}"),),
    TrailAction.RETURNED: (_wording("returned", r"to (?P<officer>\S+): (?P<reason>.*)",
                                    lambda m: f"Trả lại cho {m['officer']}: {m['reason']}"),),
    TrailAction.FEE_PAID: (_wording("fee_paid", r"(?P<amount>\d+) VND, order (?P<order>.+)",
                                    lambda m: f"{_vnd(m['amount'])}, mã thanh toán {m['order']}"),),
    TrailAction.STAY_NOTIFIED: (_wording("stay", r"(?P<code>\S+): (?P<guests>\d+) guest\(s\)",
                                         lambda m: f"{m['code']}: {m['guests']} người lưu trú"),),
    TrailAction.CANCELLED: (
        _fixed("unpaid", "fee not paid in time; the dossier is cancelled",
               "Không nộp lệ phí trong thời hạn; hồ sơ bị hủy"),
        _fixed("not_supplemented", "no supplement within the time allowed",
               "Công dân không bổ sung hồ sơ trong thời hạn"),
        _wording("filed_in_time", r"filed in time as dossier (?P<code>\S+): no ex officio deletion",
                 lambda m: f"Công dân đã nộp hồ sơ {m['code']} trong thời hạn: không xóa đăng ký theo thông báo"),
        _wording("closed", r"closed: (?P<reason>.*?)(?:; the fee of (?P<amount>\d+) VND was paid \(order "
                           r"(?P<order>[^)]+)\) and is to be refunded)?",
                 lambda m: f"Quản trị viên đóng hồ sơ: {m['reason']}"
                           + (f"; lệ phí {_vnd(m['amount'])} đã nộp (mã thanh toán {m['order']}) được hoàn trả"
                              if m["amount"] else "")),
    ),
    TrailAction.MESSAGES_REFUSED: (_wording("budget_spent", r"(?P<budget>\d+) messages taken: from here on only those "
                                                            r"that move the dossier on are taken",
                                            lambda m: f"Đã nhận {m['budget']} tin nhắn: từ nay hồ sơ chỉ nhận tin nhắn "
                                                      "giúp hồ sơ tiếp tục"),),
    # The failure's own text is technical and stays as the worker gave it.
    TrailAction.STEP_FAILED: (_wording("step_failed", r"(?P<step>\w+): (?P<cause>.*); no retry mends it: an operator "
                                                      r"closes the dossier with a reason \(cutru close\)",
                                       lambda m: f"Bước {m['step']} lỗi, không tự khắc phục được; quản trị viên sẽ "
                                                 f"đóng hồ sơ kèm lý do (lỗi ghi nhận: {m['cause']})"),),
}
for _action in (TrailAction.DECISION_REFUSED, TrailAction.WITHDRAWAL_REFUSED, TrailAction.FILING_REFUSED,
                TrailAction.CLOSE_REFUSED):
    TRAIL[_action] = REFUSALS
# A stay register's closing line: the notification's code, then the codes of its refusal grounds, if any.
_REGISTER_CLOSING = _wording("register_closing", r"(?P<code>[A-Za-z0-9][A-Za-z0-9._-]*)(?P<grounds>(?:; \w+)*)",
                             lambda m: m["code"] + (f"; mã căn cứ từ chối: {m['grounds'][2:]}" if m["grounds"] else ""))
TRAIL[TrailAction.COMPLETED] = (_REGISTER_CLOSING,)

# Details that are what an officer, a head or a citizen wrote (a reason, the papers asked for or given), or already
# Vietnamese (the procedure's name at receipt): shown as written.
AS_WRITTEN = frozenset({TrailAction.RECEIVED, TrailAction.APPROVED, TrailAction.PROPOSED,
                        TrailAction.SUPPLEMENT_REQUESTED, TrailAction.SUPPLEMENTED, TrailAction.WITHDRAWN})
# The refusals found by the checks, joined by "; ": each in the Vietnamese the refusal carries.
BY_REFUSALS = frozenset({TrailAction.REFUSED})

_DECISIONS = {"approve": "phê duyệt", "reject": "từ chối", "request_supplement": "yêu cầu bổ sung",
              "sign": "ký duyệt", "return": "trả lại"}

# The messages a replay reads from a history (``cutru.clients.audit.messages``), by their name there.
MESSAGE_LABELS: dict[str, str] = {
    "submitted": "Nộp hồ sơ", "register_opened": "Mở sổ lưu trú trong ngày", "stay_notified": "Thông báo lưu trú",
    "decision_signal": "Quyết định của cán bộ (tín hiệu)", "payment_confirmed": "Cổng thanh toán xác nhận",
    "supplement": "Công dân bổ sung hồ sơ", "withdraw": "Công dân rút hồ sơ", "citizen_filing": "Công dân tự nộp hồ sơ",
    "update_decide": "Quyết định của cán bộ", "update_sign_off": "Ý kiến của lãnh đạo",
    "update_reassign": "Phân công lại",
}
MESSAGES: dict[str, tuple[Wording, ...]] = {
    "submitted": (_wording("submitted", r"(?P<procedure>\w+): (?P<name>.*) \((?P<id>[^()]*)\), unit (?P<unit>\S+)",
                           lambda m: f"{procedure_name(m['procedure'])}: {m['name']} ({m['id']}), "
                                     f"đơn vị {m['unit']}"),),
    "register_opened": (_wording("register", r"(?P<register>\S+): unit (?P<unit>\S+), day (?P<day>\S+)",
                                 lambda m: f"{m['register']}: đơn vị {m['unit']}, ngày {_iso_date(m['day'])}"),),
    "stay_notified": TRAIL[TrailAction.STAY_NOTIFIED],
    "payment_confirmed": (_wording("paid", r"(?P<amount>\d+) VND", lambda m: _vnd(m["amount"])),),
    "decision_signal": (_wording("decision", r"(?P<decision>\w+)(?:; reason: (?P<reason>.*?))?"
                                             r"(?:; missing: (?P<missing>.*))?",
                                 lambda m: _DECISIONS.get(m["decision"], m["decision"]).capitalize()
                                           + (f"; lý do: {m['reason']}" if m["reason"] else "")
                                           + (f"; còn thiếu: {m['missing']}" if m["missing"] else "")),),
    "update_sign_off": (_wording("sign_off", r"(?P<decision>sign|return)(?:: (?P<reason>.*))?",
                                 lambda m: _DECISIONS[m["decision"]].capitalize()
                                           + (f": {m['reason']}" if m["reason"] else "")),),
}
MESSAGES["update_decide"] = MESSAGES["decision_signal"]


def finding_vi(text: str) -> str:
    """A finding of the checks in Vietnamese (one this desk does not know is shown as written)."""
    return _said(FINDINGS, text) or text


def trail_detail_vi(action: str, detail: str, refusals: Mapping[str, str] | None = None) -> str:
    """A trail entry's detail in Vietnamese; ``refusals`` gives the Vietnamese of the dossier's refusal messages,
    where the page knows them. A detail of no known wording says in Vietnamese what kind of line it is, with the
    recorded text as technical detail."""
    if not detail or action in AS_WRITTEN:
        return detail
    if action in BY_REFUSALS:
        known = refusals or {}
        parts = detail.split("; ")
        if all(part in known for part in parts):
            return "; ".join(known[part] for part in parts)
        return _said(TRAIL.get(TrailAction.COMPLETED, ()), detail) or _technical("Căn cứ từ chối", detail)
    said = _said(TRAIL.get(TrailAction(action), ()), detail) if action in TrailAction.__members__.values() else None
    return said or _technical("Chi tiết", detail)


def message_vi(action: str, detail: str) -> tuple[str, str]:
    """A replayed message's name and detail in Vietnamese."""
    label = MESSAGE_LABELS.get(action, action)
    if not detail or action in ("supplement", "withdraw", "citizen_filing", "update_reassign"):
        return label, detail  # the citizen's or the supervisor's own words
    return label, _said(MESSAGES.get(action, ()), detail) or _technical("Chi tiết", detail)


def _said(wordings: tuple[Wording, ...], text: str) -> str | None:
    return next((said for wording in wordings if (said := wording.say(text)) is not None), None)


def _technical(what: str, text: str) -> str:
    return f"{what} (ghi nhận kỹ thuật, tiếng Anh): {text}"
