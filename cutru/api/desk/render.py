"""The desk's pages: Jinja2 templates (package data, autoescaped), Vietnamese labels, Vietnamese times and dates.

Every time is shown in Asia/Ho_Chi_Minh with the zone written out (``14:30 26/11/2026 (GMT+7)``), every date as
dd/mm/yyyy, every procedure, state and trail line by its Vietnamese name, every finding and trail detail in
Vietnamese (``cutru.api.desk.wording``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from cutru.api.desk.wording import (
    STATE_LABELS,
    finding_vi,
    message_vi,
    procedure_name,
    trail_detail_vi,
    vn_date,
    vn_time,
)
from domain.kinds import DocumentKind
from domain.models import TrailAction

TRAIL_LABELS: dict[str, str] = {
    TrailAction.NOTICE_SERVED: "Thông báo của cơ quan công an",
    TrailAction.RECEIVED: "Tiếp nhận hồ sơ",
    TrailAction.ACCEPTED: "Hồ sơ hợp lệ, hẹn trả kết quả (CT04)",
    TrailAction.REASSIGNED: "Phân công lại",
    TrailAction.REMINDER_SENT: "Nhắc hạn xử lý",
    TrailAction.ESCALATED: "Báo lãnh đạo: sắp hoặc đã quá hạn",
    TrailAction.DECISION_REFUSED: "Quyết định không được ghi nhận",
    TrailAction.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung (CT05)",
    TrailAction.SUPPLEMENTED: "Công dân đã bổ sung",
    TrailAction.APPROVED: "Cán bộ phê duyệt",
    TrailAction.PROPOSED: "Cán bộ đề xuất phê duyệt",
    TrailAction.SIGNED_OFF: "Lãnh đạo ký duyệt",
    TrailAction.RETURNED: "Lãnh đạo trả lại cho cán bộ",
    TrailAction.FEE_PAID: "Đã nộp lệ phí",
    TrailAction.WITHDRAWAL_REFUSED: "Không nhận yêu cầu rút hồ sơ",
    TrailAction.CLOSE_REFUSED: "Không đóng hồ sơ theo yêu cầu",
    TrailAction.FILING_REFUSED: "Không nhận bản khai",
    TrailAction.STAY_NOTIFIED: "Đã ghi nhận thông báo lưu trú",
    TrailAction.MESSAGES_REFUSED: "Quá số tin nhắn cho phép: chỉ nhận tin nhắn giúp hồ sơ tiếp tục",
    TrailAction.STEP_FAILED: "Một bước xử lý lỗi không tự khắc phục được: chờ quản trị viên đóng hồ sơ",
    TrailAction.COMPLETED: "Hoàn thành",
    TrailAction.REFUSED: "Từ chối (CT06)",
    TrailAction.CANCELLED: "Huỷ",
    TrailAction.WITHDRAWN: "Rút hồ sơ",
}

# Who a trail line names when it is not an officer (whose code it shows).
ACTOR_LABELS: dict[str, str] = {"citizen": "công dân", "system": "hệ thống", "signal": "tin nhắn không hợp lệ"}

DOCUMENT_LABELS: dict[str, str] = {
    DocumentKind.CT03: "CT03 — Phiếu khai báo tạm vắng",
    DocumentKind.CT04: "CT04 — Phiếu tiếp nhận hồ sơ và hẹn trả kết quả",
    DocumentKind.CT05: "CT05 — Phiếu hướng dẫn bổ sung, hoàn thiện hồ sơ",
    DocumentKind.CT06: "CT06 — Phiếu từ chối tiếp nhận, giải quyết hồ sơ",
    DocumentKind.CT07: "CT07 — Xác nhận thông tin về cư trú",
    DocumentKind.CT08: "CT08 — Thông báo kết quả giải quyết, hủy bỏ đăng ký cư trú",
}


# What the citizen filed, by field name: the common ones in Vietnamese; another field shows its own name.
FIELD_LABELS: dict[str, str] = {
    "procedure": "Thủ tục", "dossier_code": "Mã hồ sơ", "received_at": "Thời điểm nộp", "channel": "Kênh nộp",
    "applicant": "Người đề nghị", "personal_id": "Số định danh cá nhân", "full_name": "Họ và tên",
    "birth_date": "Ngày sinh", "sex": "Giới tính", "police_unit": "Đơn vị giải quyết",
    "declaration_truthful": "Cam đoan khai đúng sự thật", "consents": "Ý kiến đồng ý", "role": "Tư cách",
    "given_via": "Hình thức", "delivery": "Nhận kết quả", "method": "Cách nhận", "destination": "Nơi nhận",
    "details": "Nội dung đề nghị", "members": "Thành viên", "residence": "Chỗ ở", "address": "Địa chỉ",
    "commune_code": "Mã xã, phường", "line": "Số nhà, đường phố", "reason": "Lý do", "relation": "Quan hệ",
    "relation_to_head": "Quan hệ với chủ hộ", "relation_to_new_head": "Quan hệ với chủ hộ mới",
    "valid_from": "Từ ngày", "valid_until": "Đến ngày", "phone": "Điện thoại", "email": "Thư điện tử",
    "basis": "Căn cứ đăng ký", "province_code": "Mã tỉnh, thành phố", "address_line": "Số nhà, đường phố",
    "declared_floor_area_m2": "Diện tích sàn kê khai (m²)", "contract_certified": "Hợp đồng đã công chứng",
    "owner_id": "Số định danh chủ sở hữu", "fee_exemption": "Miễn lệ phí", "start_date": "Từ ngày",
    "end_date": "Đến ngày", "months": "Số tháng", "guests": "Người lưu trú", "filed_by": "Cán bộ nộp giúp",
    "contact": "Liên hệ", "attachments": "Giấy tờ đính kèm",
    "absence_from": "Vắng mặt từ ngày", "absence_to": "Vắng mặt đến ngày", "absence_reason": "Lý do vắng mặt",
    "arrival": "Thời điểm đến", "departure": "Thời điểm đi", "authority_name": "Cơ quan có ý kiến",
    "birth_registered_on": "Ngày đăng ký khai sinh", "child_id": "Số định danh cá nhân của trẻ",
    "by_list": "Đăng ký theo danh sách", "case": "Trường hợp", "category": "Diện khai báo",
    "change": "Nội dung điều chỉnh", "civil_status_extract_number": "Số trích lục hộ tịch",
    "civil_status_source": "Căn cứ hộ tịch", "current_place": "Nơi ở hiện tại", "divorce": "Ly hôn",
    "divorce_proven": "Có giấy tờ chứng minh ly hôn", "event_date": "Ngày phát sinh",
    "file_name": "Tên tệp", "kind": "Loại giấy tờ", "media_type": "Định dạng", "sha256": "Mã băm SHA-256",
    "size_bytes": "Dung lượng (byte)", "host_kind": "Loại cơ sở lưu trú",
    "incapacitated": "Khuyết tật nặng, không có khả năng lao động hoặc mất năng lực hành vi dân sự",
    "joins_household": "Nhập vào hộ gia đình đang ở", "letter_number": "Số văn bản đề nghị",
    "new_address_line": "Địa chỉ mới", "new_full_name": "Họ và tên mới", "new_head_id": "Số định danh chủ hộ mới",
    "newborn": "Trẻ mới sinh", "notice_number": "Số thông báo", "notified_on": "Ngày thông báo",
    "officer_id": "Mã cán bộ", "organisation": "Cơ quan, tổ chức quản lý", "others": "Những người khác",
    "overseas_vietnamese": "Người Việt Nam định cư ở nước ngoài", "passport_number": "Số hộ chiếu",
    "place": "Địa điểm", "police_notice": "Thông báo của Công an", "purpose": "Mục đích",
    "reason_code": "Mã lý do", "reason_not_registered": "Lý do chưa đủ điều kiện đăng ký",
    "repeated_relative_visits": "Người thân đến ở nhiều lần", "requested_until": "Đề nghị đến ngày",
    "right_to_use_residence_proven": "Có giấy tờ chứng minh quyền sử dụng chỗ ở",
    "subject_id": "Số định danh người bị xoá đăng ký",
}
FIELD_VALUES: dict[str, str] = {
    "male": "Nam", "female": "Nữ", "online": "Trực tuyến", "assisted": "Tại trụ sở (cán bộ nộp giúp)",
    "electronic": "Điện tử", "postal": "Bưu chính", "sms": "Tin nhắn SMS", "at_office": "Nhận tại trụ sở",
    "head": "Chủ hộ", "spouse": "Vợ/chồng", "child": "Con",
    "household_head": "Chủ hộ", "owner": "Chủ sở hữu chỗ ở", "own_residence": "Chỗ ở hợp pháp thuộc sở hữu của mình",
}


def field_value(text: str) -> str:
    """A filed value as the officer reads it: a date as dd/mm/yyyy, a time in GMT+7, a known code or a procedure
    in Vietnamese."""
    try:
        if len(text) == 10:
            return vn_date(date.fromisoformat(text))
        moment = datetime.fromisoformat(text)
        return vn_time(moment) if moment.tzinfo is not None else text
    except ValueError:
        return FIELD_VALUES.get(text) or procedure_name(text)


def days(value: Decimal | float | int) -> str:
    """``1,5`` rather than ``1.5``: the Vietnamese decimal comma."""
    number = Decimal(value).normalize()
    return f"{number:f}".replace(".", ",")


def _environment() -> Environment:
    environment = Environment(loader=PackageLoader("cutru.api.desk", "templates"), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(field_value=field_value, field_label=lambda name: FIELD_LABELS.get(name, name),
                               vn_time=vn_time, vn_date=vn_date, days=days, procedure_name=procedure_name,
                               state_label=lambda state: STATE_LABELS.get(state, state),
                               trail_label=lambda action: TRAIL_LABELS.get(action, action),
                               actor_label=lambda actor: ACTOR_LABELS.get(actor, actor),
                               document_label=lambda kind: DOCUMENT_LABELS.get(kind, kind),
                               finding=finding_vi,
                               trail_detail=lambda detail, action, refusals: trail_detail_vi(action, detail, refusals),
                               message_label=lambda action: message_vi(action, "")[0],
                               message_detail=lambda detail, action: message_vi(action, detail)[1])
    return environment


TEMPLATES = _environment()

# What the browser may do with a desk page: its own stylesheet and script only, no framing, no sniffing, and the
# page's address sent as Referer to the desk itself only (the CSRF check reads it; no one else needs it).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The template rendered with ``context`` plus what every page shows (the signed-in officer, the form token)."""
    body = TEMPLATES.get_template(template).render(
        request=request, session=getattr(request.state, "desk_session", None),
        unread=getattr(request.state, "desk_unread", 0), **context)
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
