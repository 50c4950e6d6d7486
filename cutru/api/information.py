"""What a citizen reads before filing (service levels 1 and 2): who may file, which papers, and the blank forms.

The procedure's name, code, legal basis, fee, deadline and results come from the catalogue and the rule sets; the
texts below (from the Ministry's procedure set, ``domain/procedures.md``) are information only, read by no rule.
The blank forms are rendered here, once per process: the result documents of ``domain.documents`` are filled
forms issued by the police, whereas CT01 and CT02 are what the citizen fills in.
"""

from __future__ import annotations

import functools
import io
import threading

from domain.kinds import Procedure

P = Procedure

WHO_MAY_FILE: dict[Procedure, str] = {
    P.PERMANENT_RESIDENCE_REGISTRATION: "Công dân có chỗ ở hợp pháp (của mình, nhập hộ người thân, hoặc thuê, "
                                        "mượn, ở nhờ); người chưa thành niên cần ý kiến đồng ý của cha, mẹ hoặc "
                                        "người giám hộ.",
    P.PERMANENT_RESIDENCE_DELETION: "Người thuộc trường hợp bị xóa đăng ký thường trú hoặc đại diện hộ gia đình, "
                                    "trong 07 ngày kể từ ngày phát sinh.",
    P.TEMPORARY_RESIDENCE_REGISTRATION: "Công dân đến sinh sống từ 30 ngày trở lên tại chỗ ở hợp pháp ngoài xã nơi "
                                        "thường trú; cơ quan, tổ chức quản lý khi đăng ký theo danh sách.",
    P.TEMPORARY_RESIDENCE_EXTENSION: "Người đã đăng ký tạm trú, trong 15 ngày trước khi hết thời hạn tạm trú; "
                                     "thành viên hộ có thể gia hạn cho người khác khi chủ sở hữu đồng ý.",
    P.TEMPORARY_RESIDENCE_DELETION: "Người thuộc trường hợp bị xóa đăng ký tạm trú hoặc đại diện hộ gia đình, "
                                    "trong 07 ngày kể từ ngày phát sinh.",
    P.HOUSEHOLD_SEPARATION: "Thành viên hộ gia đình có năng lực hành vi dân sự đầy đủ, có cùng chỗ ở thường trú, "
                            "được chủ hộ hoặc chủ sở hữu chỗ ở đồng ý.",
    P.RESIDENCE_INFO_ADJUSTMENT: "Chủ hộ hoặc thành viên hộ gia đình có thông tin cư trú thay đổi (chủ hộ, hộ tịch).",
    P.RESIDENCE_DECLARATION: "Người không đủ điều kiện đăng ký thường trú, tạm trú, tại nơi đang thực tế sinh sống.",
    P.RESIDENCE_CONFIRMATION: "Công dân cần xác nhận thông tin về cư trú của mình, tại bất kỳ Công an cấp xã nào.",
    P.STAY_NOTIFICATION: "Thành viên hộ gia đình, người đại diện cơ sở lưu trú (khách sạn, bệnh viện, ký túc xá, "
                         "khu lưu trú công nhân) hoặc người quản lý phương tiện; người lưu trú nếu chủ vắng mặt.",
    P.TEMPORARY_ABSENCE_DECLARATION: "Người phải khai báo tạm vắng theo Điều 31 Luật Cư trú (bị can, bị cáo tại ngoại; "
                                     "người trong độ tuổi nghĩa vụ quân sự; người vắng mặt từ 12 tháng liên tục).",
}

PAPERS: dict[Procedure, tuple[str, ...]] = {
    P.PERMANENT_RESIDENCE_REGISTRATION: (
        "Tờ khai thay đổi thông tin cư trú (CT01); người Việt Nam định cư ở nước ngoài không có hộ chiếu Việt Nam "
        "còn giá trị: Tờ khai CT02",
        "Giấy tờ chứng minh chỗ ở hợp pháp (trừ khi đã có trong cơ sở dữ liệu)",
        "Giấy tờ chứng minh quan hệ nhân thân (trừ khi đã có trong cơ sở dữ liệu)",
        "Nhà thuê, mượn, ở nhờ: hợp đồng được công chứng hoặc chứng thực và giấy tờ chứng minh diện tích sàn",
    ),
    P.PERMANENT_RESIDENCE_DELETION: ("Tờ khai thay đổi thông tin cư trú (CT01)",
                                     "Giấy tờ chứng minh trường hợp bị xóa đăng ký thường trú"),
    P.TEMPORARY_RESIDENCE_REGISTRATION: (
        "Tờ khai thay đổi thông tin cư trú (CT01); người chưa thành niên: có ý kiến đồng ý",
        "Giấy tờ chứng minh chỗ ở hợp pháp (hợp đồng thuê không cần công chứng)",
        "Đăng ký theo danh sách: văn bản đề nghị của cơ quan, tổ chức kèm Tờ khai CT01 của từng người",
    ),
    P.TEMPORARY_RESIDENCE_EXTENSION: ("Tờ khai thay đổi thông tin cư trú (CT01)",),
    P.TEMPORARY_RESIDENCE_DELETION: ("Tờ khai thay đổi thông tin cư trú (CT01)",
                                     "Giấy tờ chứng minh trường hợp bị xóa đăng ký tạm trú"),
    P.HOUSEHOLD_SEPARATION: (
        "Tờ khai thay đổi thông tin cư trú (CT01) có ý kiến đồng ý của chủ hộ hoặc chủ sở hữu chỗ ở",
        "Vợ chồng đã ly hôn cùng ở: giấy tờ chứng minh việc ly hôn và quyền tiếp tục sử dụng chỗ ở",
    ),
    P.RESIDENCE_INFO_ADJUSTMENT: ("Tờ khai thay đổi thông tin cư trú (CT01)",
                                  "Giấy tờ chứng minh thông tin thay đổi"),
    P.RESIDENCE_DECLARATION: ("Tờ khai thay đổi thông tin cư trú (CT01)", "Các giấy tờ khác (nếu có)"),
    P.RESIDENCE_CONFIRMATION: ("Tờ khai thay đổi thông tin cư trú (CT01), hoặc đề nghị trực tuyến",),
    P.STAY_NOTIFICATION: ("Không có tờ khai: họ tên, ngày sinh, số định danh cá nhân hoặc hộ chiếu, lý do, thời gian "
                          "và địa chỉ lưu trú của từng người",),
    P.TEMPORARY_ABSENCE_DECLARATION: (
        "Tờ khai thay đổi thông tin cư trú (CT01): lý do, thời gian và nơi đến",
        "Văn bản đồng ý của cơ quan có thẩm quyền giám sát, quản lý (trường hợp a, b của Điều 31)",
    ),
}

FORM_TITLES: dict[str, str] = {
    "CT01": "TỜ KHAI THAY ĐỔI THÔNG TIN CƯ TRÚ",
    "CT02": "TỜ KHAI THAY ĐỔI THÔNG TIN CƯ TRÚ (dành cho người Việt Nam định cư ở nước ngoài)",
}

FORMS: dict[Procedure, tuple[str, ...]] = {
    procedure: () if procedure is P.STAY_NOTIFICATION
    else ("CT01", "CT02") if procedure is P.PERMANENT_RESIDENCE_REGISTRATION else ("CT01",)
    for procedure in Procedure
}

# The fields of the blank form, as printed (Thông tư 66/2023/TT-BCA, mẫu CT01; CT02 adds the passport).
_FIELDS: dict[str, tuple[str, ...]] = {
    "CT01": (
        "1. Họ, chữ đệm và tên", "2. Ngày, tháng, năm sinh", "3. Giới tính", "4. Số định danh cá nhân",
        "5. Số điện thoại liên hệ", "6. Email", "7. Họ, chữ đệm và tên chủ hộ", "8. Mối quan hệ với chủ hộ",
        "9. Số định danh cá nhân của chủ hộ", "10. Nội dung đề nghị", "11. Những thành viên trong hộ gia đình cùng "
        "thay đổi", "12. Ý kiến của chủ hộ / chủ sở hữu chỗ ở / cha, mẹ hoặc người giám hộ",
    ),
    "CT02": (
        "1. Họ, chữ đệm và tên", "2. Ngày, tháng, năm sinh", "3. Giới tính", "4. Quốc tịch",
        "5. Số hộ chiếu hoặc giấy tờ thay thế", "6. Nơi cư trú ở nước ngoài", "7. Số điện thoại liên hệ",
        "8. Email", "9. Nội dung đề nghị", "10. Ý kiến của chủ hộ / chủ sở hữu chỗ ở",
    ),
}

_LOCK = threading.Lock()


@functools.cache
def blank_form(form: str) -> bytes:
    """The blank form as an A4 PDF (the same bytes every time)."""
    from importlib import resources

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen.canvas import Canvas

    root = resources.files("fontpkg_be_vietnam_pro") / "files"
    with _LOCK:
        for name, file in (("CutruForm", "BeVietnamPro-Regular.ttf"), ("CutruForm-B", "BeVietnamPro-Bold.ttf")):
            if name not in pdfmetrics.getRegisteredFontNames():
                with (root / file).open("rb") as stream:
                    pdfmetrics.registerFont(TTFont(name, io.BytesIO(stream.read()), asciiReadable=False))
        buffer = io.BytesIO()
        canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1, lang="vi", initialFontName="CutruForm")
        canvas.setTitle(f"Mẫu {form} - {FORM_TITLES[form]}")
        canvas.setCreator("cutru")
        width, height = A4
        y = height - 20 * mm
        canvas.setFont("CutruForm-B", 10)
        canvas.drawCentredString(width / 2, y, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
        y -= 5 * mm
        canvas.drawCentredString(width / 2, y, "Độc lập - Tự do - Hạnh phúc")
        canvas.drawRightString(width - 18 * mm, height - 12 * mm, f"Mẫu {form}")
        y -= 14 * mm
        canvas.setFont("CutruForm-B", 12)
        canvas.drawCentredString(width / 2, y, FORM_TITLES[form].split(" (")[0])
        y -= 10 * mm
        canvas.setFont("CutruForm", 10.5)
        canvas.drawString(18 * mm, y, "Kính gửi: Công an ........................................................")
        for label in _FIELDS[form]:
            y -= 9 * mm
            canvas.drawString(18 * mm, y, label + ": ")
            start = 18 * mm + canvas.stringWidth(label + ": ", "CutruForm", 10.5)
            canvas.setDash(1, 2)
            canvas.line(start, y - 0.8 * mm, width - 18 * mm, y - 0.8 * mm)
            canvas.setDash()
        y -= 18 * mm
        canvas.drawCentredString(width * 0.75, y, "......, ngày ..... tháng ..... năm .........")
        y -= 6 * mm
        canvas.setFont("CutruForm-B", 10.5)
        canvas.drawCentredString(width * 0.75, y, "NGƯỜI KÊ KHAI")
        canvas.showPage()
        canvas.save()
        return buffer.getvalue()
