"""Staff-facing text catalogue: Indonesian by default, English switchable."""

from __future__ import annotations

import logging
import os
from enum import StrEnum

__all__ = ["CATALOGUE", "Lang", "Texts", "lang_from_code", "set_strict", "t"]

_log = logging.getLogger(__name__)


class Lang(StrEnum):
    """Languages the desk speaks."""

    ID = "id"
    EN = "en"


# Every entry is plain text (no HTML): renderers escape the formatted result, so a
# placeholder filled with tweet text can never inject markup.
CATALOGUE: dict[str, dict[Lang, str]] = {
    # --- status badges -------------------------------------------------------------
    "status.new": {Lang.ID: "🆕 Baru", Lang.EN: "🆕 New"},
    "status.triage": {Lang.ID: "🔀 Triase", Lang.EN: "🔀 Triage"},
    "status.routed": {Lang.ID: "📥 Masuk", Lang.EN: "📥 Incoming"},
    "status.claimed": {Lang.ID: "🙋 Ditangani", Lang.EN: "🙋 Claimed"},
    "status.drafted": {Lang.ID: "✍️ Draf balasan", Lang.EN: "✍️ Reply drafted"},
    "status.approved": {Lang.ID: "🆗 Disetujui", Lang.EN: "🆗 Approved"},
    "status.answered": {Lang.ID: "✅ Dijawab", Lang.EN: "✅ Answered"},
    "status.closed": {Lang.ID: "🔒 Ditutup", Lang.EN: "🔒 Closed"},
    "status.dismissed": {Lang.ID: "🗑 Diabaikan", Lang.EN: "🗑 Dismissed"},
    "status.moved": {Lang.ID: "➡️ Dialihkan", Lang.EN: "➡️ Moved"},
    "status.forwarded": {Lang.ID: "📨 Diteruskan", Lang.EN: "📨 Forwarded"},
    # --- card ------------------------------------------------------------------------
    "card.no_agency": {Lang.ID: "belum ada SKPD", Lang.EN: "no agency yet"},
    "card.holder_none": {Lang.ID: "🙋 Belum ada yang mengklaim", Lang.EN: "🙋 Not claimed yet"},
    "card.holder": {Lang.ID: "👷 Petugas: {name}", Lang.EN: "👷 Handled by {name}"},
    "card.triage_hint": {
        Lang.ID: "🔀 SKPD belum pasti: pilih salah satu di bawah",
        Lang.EN: "🔀 Agency unclear: pick one below",
    },
    "card.destination": {
        Lang.ID: "🏛 Bukan kewenangan provinsi — usulan tujuan: {who}",
        Lang.EN: "🏛 Not a provincial matter — proposed destination: {who}",
    },
    "card.destination_unknown": {Lang.ID: "pemkab/pemkot (daerah belum diketahui)",
                                 Lang.EN: "a regency/city government (which one is not known yet)"},
    "card.candidates": {Lang.ID: "Kandidat: {items}", Lang.EN: "Candidates: {items}"},
    "card.candidate": {Lang.ID: "{name} {pct}%", Lang.EN: "{name} {pct}%"},
    "card.citizen": {Lang.ID: "👤 {name} (@{username})", Lang.EN: "👤 {name} (@{username})"},
    "card.place": {Lang.ID: "📍 {place}", Lang.EN: "📍 {place}"},
    "card.time": {Lang.ID: "🕒 {time} · {age}", Lang.EN: "🕒 {time} · {age}"},
    "card.route": {Lang.ID: "🧭 Rute: {reasons}", Lang.EN: "🧭 Route: {reasons}"},
    "card.route_conf": {
        Lang.ID: "🧭 Rute: {reasons} (keyakinan {pct}%)",
        Lang.EN: "🧭 Route: {reasons} (confidence {pct}%)",
    },
    "card.confidence": {Lang.ID: "🧭 Keyakinan rute {pct}%", Lang.EN: "🧭 Routing confidence {pct}%"},
    "card.photos": {Lang.ID: "🖼 Lampiran:", Lang.EN: "🖼 Attachments:"},
    "card.photo": {Lang.ID: "foto {n}", Lang.EN: "photo {n}"},
    "card.video": {Lang.ID: "video {n}", Lang.EN: "video {n}"},
    "card.gif": {Lang.ID: "GIF {n}", Lang.EN: "GIF {n}"},
    "card.media_missing": {Lang.ID: "lampiran {n} (lihat di X)", Lang.EN: "attachment {n} (see on X)"},
    "card.more_on_x": {Lang.ID: "… (selengkapnya di X)", Lang.EN: "… (more on X)"},
    "card.quoted": {Lang.ID: "💬 Mengutip @{user}:", Lang.EN: "💬 Quoting @{user}:"},
    "card.quoted_unknown": {Lang.ID: "💬 Mengutip postingan:", Lang.EN: "💬 Quoting a post:"},
    "card.quoted_gone": {
        Lang.ID: "💬 Mengutip postingan yang sudah tidak ada di X.",
        Lang.EN: "💬 Quotes a post that is no longer on X.",
    },
    "card.reposts": {Lang.ID: "🔁 {n} kali dibagikan", Lang.EN: "🔁 Shared {n} times"},
    "photo.caption": {Lang.ID: "🖼 #{number} · {n}/{total}", Lang.EN: "🖼 #{number} · {n}/{total}"},
    "photo.video": {Lang.ID: "▶️ Video — tonton di X", Lang.EN: "▶️ Video — watch on X"},
    "photo.gif": {Lang.ID: "▶️ GIF — lihat di X", Lang.EN: "▶️ GIF — see on X"},
    "photo.alt": {Lang.ID: "📝 {alt}", Lang.EN: "📝 {alt}"},
    "photo.links_head": {
        Lang.ID: "🖼 Lampiran aduan #{number} (Telegram tidak dapat menampilkannya; buka di X):",
        Lang.EN: "🖼 Attachments of complaint #{number} (Telegram cannot show them; open on X):",
    },
    "card.followups": {
        Lang.ID: "💬 {n} tindak lanjut dari warga",
        Lang.EN: "💬 {n} follow-up(s) from the citizen",
    },
    "card.history": {Lang.ID: "↪️ {note}", Lang.EN: "↪️ {note}"},
    "card.open_tweet": {Lang.ID: "🔗 Buka tweet di X", Lang.EN: "🔗 Open the tweet on X"},
    "card.deleted": {
        Lang.ID: "🗑 Warga menghapus tweet ini; balasan di utas tidak mungkin lagi.",
        Lang.EN: "🗑 The citizen deleted this tweet; an in-thread reply is no longer possible.",
    },
    "card.edited": {
        Lang.ID: "✏️ Warga menyunting tweet ini; yang tampil adalah versi terbaru.",
        Lang.EN: "✏️ The citizen edited this tweet; the latest version is shown.",
    },
    "card.needs_approval": {
        Lang.ID: "🔐 Balasan perlu persetujuan admin sebelum dikirim.",
        Lang.EN: "🔐 The reply needs an admin's approval before it is sent.",
    },
    "card.approved_wait": {
        Lang.ID: "⏳ Disetujui; sedang dikirim ke X.",
        Lang.EN: "⏳ Approved; being sent to X.",
    },
    "card.answered": {Lang.ID: "✅ Dijawab oleh {by}", Lang.EN: "✅ Answered by {by}"},
    "card.reply_link": {Lang.ID: "Lihat balasan di X", Lang.EN: "See the reply on X"},
    "card.rejected": {
        Lang.ID: "❌ X menolak balasan: {reason}",
        Lang.EN: "❌ X rejected the reply: {reason}",
    },
    "card.rejected_todo": {
        Lang.ID: "Yang bisa dilakukan: ubah balasan lalu kirim lagi, kirim sebagai post baru, "
        "atau tandai dijawab di luar desk.",
        Lang.EN: "What to do: edit the reply and send again, send it as a new post, "
        "or mark it answered outside the desk.",
    },
    "card.moved": {
        Lang.ID: "➡️ Dialihkan ke {agency} oleh {by}: {reason}",
        Lang.EN: "➡️ Moved to {agency} by {by}: {reason}",
    },
    "card.moved_short": {Lang.ID: "➡️ Dialihkan ke {agency}", Lang.EN: "➡️ Moved to {agency}"},
    "card.moved_hint": {
        Lang.ID: "Kartu ini tidak aktif lagi; penanganan berlanjut di grup {agency}.",
        Lang.EN: "This card is no longer active; handling continues in the {agency} group.",
    },
    # --- reply eligibility (X only allows in-thread replies when the desk was mentioned)
    # One short line on the card; what it means and costs is in the draft preview.
    "elig.yes": {Lang.ID: "✅ Bisa dibalas di utas", Lang.EN: "✅ Can be answered in the thread"},
    "elig.no": {Lang.ID: "⚠️ Balasan jadi post baru", Lang.EN: "⚠️ The reply becomes a new post"},
    # --- buttons ---------------------------------------------------------------------
    "btn.claim": {Lang.ID: "Klaim", Lang.EN: "Claim"},
    "btn.release": {Lang.ID: "Lepas", Lang.EN: "Release"},
    "btn.reassign": {Lang.ID: "Alihkan", Lang.EN: "Reassign"},
    "btn.triage": {Lang.ID: "Salah SKPD?", Lang.EN: "Wrong agency?"},
    "btn.reply": {Lang.ID: "Balas", Lang.EN: "Reply"},
    "btn.send": {Lang.ID: "Kirim ke X", Lang.EN: "Send to X"},
    "btn.send_latest": {Lang.ID: "Kirim di bawah tambahan", Lang.EN: "Send under the follow-up"},
    "btn.send_earlier": {Lang.ID: "Kirim di bawah post awal", Lang.EN: "Send under the first post"},
    "btn.edit": {Lang.ID: "Ubah", Lang.EN: "Edit"},
    "btn.cancel": {Lang.ID: "Batal", Lang.EN: "Cancel"},
    "btn.prev": {Lang.ID: "◀", Lang.EN: "◀"},
    "btn.next": {Lang.ID: "▶", Lang.EN: "▶"},
    "btn.back": {Lang.ID: "◀ Kembali", Lang.EN: "◀ Back"},
    "btn.outside": {Lang.ID: "Tandai dijawab di luar desk", Lang.EN: "Mark answered outside the desk"},
    "btn.dismiss": {Lang.ID: "Abaikan…", Lang.EN: "Dismiss…"},
    "btn.close": {Lang.ID: "Tutup", Lang.EN: "Close"},
    "btn.other": {Lang.ID: "Pilih SKPD lain…", Lang.EN: "Pick another agency…"},
    "btn.fallback": {Lang.ID: "Kirim sebagai post baru (fallback)", Lang.EN: "Send as a new post (fallback)"},
    "btn.choice": {Lang.ID: "{name} · {pct}%", Lang.EN: "{name} · {pct}%"},
    # --- reasons (reassign and return-to-triage) --------------------------------------
    "reason.nowewenang": {Lang.ID: "Bukan tugas SKPD kami", Lang.EN: "Not our agency's task"},
    "reason.salahrute": {Lang.ID: "Salah SKPD", Lang.EN: "Wrong agency"},
    "reason.lainnya": {Lang.ID: "Lainnya…", Lang.EN: "Other…"},
    "reason.spam": {Lang.ID: "Spam atau iklan", Lang.EN: "Spam or advertising"},
    "reason.bukanaduan": {Lang.ID: "Bukan aduan", Lang.EN: "Not a complaint"},
    "reason.ganda": {Lang.ID: "Aduan ganda", Lang.EN: "Duplicate complaint"},
    "reason.triase": {Lang.ID: "Dipilih di triase", Lang.EN: "Chosen in triage"},
    # --- pickers ---------------------------------------------------------------------
    "picker.agency": {
        Lang.ID: "Alihkan aduan #{number} ke SKPD mana? (hal. {page}/{pages})",
        Lang.EN: "Move complaint #{number} to which agency? (page {page}/{pages})",
    },
    "picker.reason": {
        Lang.ID: "Alasan mengalihkan aduan #{number} ke {agency}?",
        Lang.EN: "Why move complaint #{number} to {agency}?",
    },
    "picker.triage": {
        Lang.ID: "Alasan mengembalikan aduan #{number} ke triase?",
        Lang.EN: "Why return complaint #{number} to triage?",
    },
    # --- refusal alerts (answerCallbackQuery, ≤ 200 characters) ------------------------
    "alert.not_member": {
        Lang.ID: "Anda bukan anggota grup SKPD ini; tombol ini hanya untuk anggota grup.",
        Lang.EN: "You are not a member of this agency's group; only group members can use this button.",
    },
    "alert.not_owner": {
        Lang.ID: "Aduan #{number} sedang ditangani {name}; hanya dia atau admin yang bisa melakukan ini.",
        Lang.EN: "Complaint #{number} is handled by {name}; only they or an admin can do this.",
    },
    "alert.already_claimed": {Lang.ID: "Sudah diklaim oleh {name}.", Lang.EN: "Already claimed by {name}."},
    "alert.stale": {
        Lang.ID: "Kartu ini baru saja berubah dan sudah diperbarui; periksa lalu tekan lagi.",
        Lang.EN: "This card just changed and has been updated; check it and press again.",
    },
    "alert.not_admin": {
        Lang.ID: "Hanya admin grup ini yang bisa melakukan ini.",
        Lang.EN: "Only an admin of this group can do this.",
    },
    "alert.not_triage_admin": {
        Lang.ID: "Hanya admin grup triase provinsi yang bisa melakukan ini.",
        Lang.EN: "Only an admin of the provincial triage group can do this.",
    },
    "alert.reassign_in_triage": {
        Lang.ID: "Memindahkan aduan dilakukan admin triase di grup triase. Di sini: tekan «Salah SKPD?».",
        Lang.EN: "Moving a complaint is done by triage admins in the triage group. Here: press «Wrong agency?».",
    },
    "alert.invalid": {
        Lang.ID: "Tombol tidak valid atau sudah tidak berlaku.",
        Lang.EN: "Invalid or expired button.",
    },
    "alert.too_long": {
        Lang.ID: "Balasan terlalu panjang: {n}/{limit}. Persingkat lalu kirim lagi.",
        Lang.EN: "The reply is too long: {n}/{limit}. Shorten it and send again.",
    },
    "alert.slow_down": {
        Lang.ID: "Terlalu banyak perintah. Coba lagi dalam {seconds} detik.",
        Lang.EN: "Too many commands. Try again in {seconds} seconds.",
    },
    "alert.too_long_fallback": {
        Lang.ID: "Balasan terlalu panjang: {n}/{limit}, termasuk {extra} karakter untuk @warga dan tautan "
        "post (balasan jadi post baru). Persingkat lalu kirim lagi.",
        Lang.EN: "The reply is too long: {n}/{limit}, including {extra} for the citizen's @name and the "
        "post link (it goes as a new post). Shorten it and send again.",
    },
    "alert.already_sent": {
        Lang.ID: "Balasan ini sudah dikirim ke X.",
        Lang.EN: "This reply has already been sent to X.",
    },
    "alert.illegal": {
        Lang.ID: "Tindakan ini tidak diizinkan saat aduan berstatus {status}.",
        Lang.EN: "This action is not allowed while the complaint is {status}.",
    },
    "alert.post_deleted": {
        Lang.ID: "Cuitan warga sudah dihapus; aduan #{number} tidak bisa dibalas lagi.",
        Lang.EN: "The citizen's post was deleted; complaint #{number} can no longer be answered.",
    },
    "alert.not_found": {
        Lang.ID: "Aduan #{number} tidak ditemukan.",
        Lang.EN: "Complaint #{number} was not found.",
    },
    "alert.empty_reply": {
        Lang.ID: "Balasan kosong; tulis teks balasannya.",
        Lang.EN: "The reply is empty; write the reply text.",
    },
    "alert.error": {
        Lang.ID: "Terjadi kesalahan; coba lagi sebentar lagi.",
        Lang.EN: "Something went wrong; please try again shortly.",
    },
    "alert.already_yours": {
        Lang.ID: "Aduan ini sudah Anda klaim.",
        Lang.EN: "You already claimed this complaint.",
    },
    "alert.same_agency": {
        Lang.ID: "Aduan ini sudah berada di SKPD tersebut.",
        Lang.EN: "The complaint is already with that agency.",
    },
    "alert.claim_first": {
        Lang.ID: "Klaim aduan ini dulu sebelum menulis balasan.",
        Lang.EN: "Claim this complaint before writing a reply.",
    },
    "alert.not_your_prompt": {
        Lang.ID: "Permintaan balasan ini bukan untuk Anda; hanya pemilik aduan yang bisa menjawabnya.",
        Lang.EN: "This reply request is not for you; only the complaint's owner can answer it.",
    },
    "alert.needs_approval": {
        Lang.ID: "SKPD ini mewajibkan persetujuan admin grup sebelum balasan dikirim ke X.",
        Lang.EN: "This agency requires a group admin's approval before a reply goes to X.",
    },
    "alert.not_eligible": {
        Lang.ID: "Balasan di utas tidak mungkin (warga tidak menyebut akun desk). "
        "Pakai post baru atau tandai dijawab di luar desk.",
        Lang.EN: "An in-thread reply is not possible (the citizen did not mention the desk). "
        "Use a new post or mark answered outside.",
    },
    "alert.wrong_group": {
        Lang.ID: "Aduan #{number} sudah tidak ditangani di grup ini.",
        Lang.EN: "Complaint #{number} is no longer handled in this group.",
    },
    "bind.bad_code": {
        Lang.ID: "Kode penghubung tidak dikenal. Minta kode baru ke admin triase (/hubungkan).",
        Lang.EN: "Unknown link code. Ask a triage admin for a new one (/hubungkan).",
    },
    "bind.used_code": {
        Lang.ID: "Kode penghubung ini sudah dipakai. Minta kode baru ke admin triase.",
        Lang.EN: "This link code was already used. Ask a triage admin for a new one.",
    },
    "bind.expired_code": {
        Lang.ID: "Kode penghubung ini sudah kedaluwarsa. Minta kode baru ke admin triase.",
        Lang.EN: "This link code has expired. Ask a triage admin for a new one.",
    },
    "bind.chat_taken": {
        Lang.ID: "Grup ini sudah terhubung ke SKPD lain ({detail}).",
        Lang.EN: "This group is already linked to another agency ({detail}).",
    },
    "bind.code": {
        Lang.ID: "Kode sekali pakai untuk {agency}: {code} (berlaku 30 menit). "
        "Admin grup SKPD mengirim /bind {code} di grup mereka.",
        Lang.EN: "One-time code for {agency}: {code} (valid 30 minutes). "
        "An admin of the agency group sends /bind {code} there.",
    },
    "bind.bind_usage": {
        Lang.ID: "Pakai: /bind <kode dari admin triase>",
        Lang.EN: "Usage: /bind <code from a triage admin>",
    },
    "reply.not_group": {
        Lang.ID: "Perintah ini dipakai di grup SKPD atau grup triase.",
        Lang.EN: "Use this command in an agency group or the triage group.",
    },
    "draft.sent_preview": {
        Lang.ID: "📤 Balasan untuk aduan #{number} sedang dikirim ke X (oleh {name}).",
        Lang.EN: "📤 The reply to complaint #{number} is queued for X (by {name}).",
    },
    "draft.cancelled_preview": {
        Lang.ID: "✖️ Draf balasan aduan #{number} dibatalkan.",
        Lang.EN: "✖️ The draft reply to complaint #{number} was cancelled.",
    },
    # --- success toasts --------------------------------------------------------------
    "ok.claimed": {Lang.ID: "Anda mengklaim aduan #{number}.", Lang.EN: "You claimed complaint #{number}."},
    "ok.released": {Lang.ID: "Aduan #{number} dilepas.", Lang.EN: "Complaint #{number} released."},
    "ok.reassigned": {
        Lang.ID: "Aduan #{number} dialihkan ke {agency}.",
        Lang.EN: "Complaint #{number} moved to {agency}.",
    },
    "ok.routed": {
        Lang.ID: "Aduan #{number} diteruskan ke {agency}.",
        Lang.EN: "Complaint #{number} routed to {agency}.",
    },
    "ok.triaged": {
        Lang.ID: "Aduan #{number} dikembalikan ke triase.",
        Lang.EN: "Complaint #{number} returned to triage.",
    },
    "ok.queued": {
        Lang.ID: "Balasan aduan #{number} masuk antrean kirim ke X.",
        Lang.EN: "The reply to complaint #{number} is queued for sending.",
    },
    "ok.outside": {
        Lang.ID: "Aduan #{number} ditandai dijawab di luar desk.",
        Lang.EN: "Complaint #{number} marked answered outside the desk.",
    },
    "ok.dismissed": {Lang.ID: "Aduan #{number} diabaikan.", Lang.EN: "Complaint #{number} dismissed."},
    "ok.cancelled": {Lang.ID: "Dibatalkan.", Lang.EN: "Cancelled."},
    # --- ForceReply prompt and draft preview ------------------------------------------
    "prompt.reply": {
        Lang.ID: "@{username} tulis balasan untuk aduan #{number} (maks. {limit} karakter) "
        "dengan membalas pesan ini.",
        Lang.EN: "@{username} write the reply to complaint #{number} (max. {limit} characters) "
        "by replying to this message.",
    },
    "prompt.reply_body": {
        Lang.ID: "tulis balasan untuk aduan #{number} (maks. {limit} karakter) dengan membalas pesan ini.",
        Lang.EN: "write the reply to complaint #{number} (max. {limit} characters) "
        "by replying to this message.",
    },
    "prompt.placeholder": {Lang.ID: "Balasan untuk #{number}", Lang.EN: "Reply to #{number}"},
    "draft.title": {
        Lang.ID: "Pratinjau balasan ({weight}/{limit})",
        Lang.EN: "Reply preview ({weight}/{limit})",
    },
    "draft.too_long": {
        Lang.ID: "⛔ Terlalu panjang: {weight}/{limit}. Tekan Ubah untuk menyingkat.",
        Lang.EN: "⛔ Too long: {weight}/{limit}. Press Edit to shorten it.",
    },
    "draft.in_thread": {
        Lang.ID: "Akan dikirim sebagai balasan di utas @{user}.",
        Lang.EN: "Will be sent as a reply in @{user}'s thread.",
    },
    "draft.fallback": {
        Lang.ID: "⚠️ Tidak bisa dibalas di utas: warga tidak menyebut @{desk}. Fallback: post baru yang "
        "menyebut @{user} dengan tautan tweet.",
        Lang.EN: "⚠️ Cannot reply in the thread: the citizen did not mention @{desk}. Fallback: a new "
        "post mentioning @{user} with a link to the tweet.",
    },
    "draft.followups": {
        Lang.ID: "↩️ Warga menambahkan setelah draf ini ditulis:",
        Lang.EN: "↩️ The citizen added after this draft was written:",
    },
    "draft.followup_target": {
        Lang.ID: "Tambahan terbaru menyebut @{desk}: pilih di bawah post mana balasan dikirim.",
        Lang.EN: "The latest follow-up mentions @{desk}: choose which post the reply goes under.",
    },
    "draft.check": {
        Lang.ID: "Periksa sekali lagi: setelah dikirim, balasan tampil publik di X.",
        Lang.EN: "Check once more: once sent, the reply is public on X.",
    },
    # --- outcomes of publishing --------------------------------------------------------
    "outcome.posted": {
        Lang.ID: "✅ Balasan untuk aduan #{number} terkirim.",
        Lang.EN: "✅ The reply to complaint #{number} was posted.",
    },
    "outcome.posted_fallback": {
        Lang.ID: "✅ Post baru untuk aduan #{number} terkirim dan menyebut @{user}.",
        Lang.EN: "✅ A new post for complaint #{number} was published, mentioning @{user}.",
    },
    "outcome.rejected": {
        Lang.ID: "❌ X menolak balasan untuk aduan #{number}: {reason}",
        Lang.EN: "❌ X rejected the reply to complaint #{number}: {reason}",
    },
    "outcome.todo_not_mentioned": {
        Lang.ID: "Warga tidak menyebut @{desk}: kirim sebagai post baru atau tandai dijawab di luar desk.",
        Lang.EN: "The citizen did not mention @{desk}: send it as a new post or mark it answered "
        "outside the desk.",
    },
    "outcome.todo_duplicate": {
        Lang.ID: "X menganggap teks ini duplikat: ubah sedikit teksnya lalu kirim lagi.",
        Lang.EN: "X sees this text as a duplicate: change it slightly and send again.",
    },
    "outcome.todo_generic": {
        Lang.ID: "Ubah balasan lalu kirim lagi, atau tandai dijawab di luar desk.",
        Lang.EN: "Edit the reply and send again, or mark it answered outside the desk.",
    },
    "outcome.retry_later": {
        Lang.ID: "⏳ X sedang membatasi; balasan aduan #{number} akan dikirim ulang otomatis.",
        Lang.EN: "⏳ X is rate-limiting; the reply to complaint #{number} will be retried automatically.",
    },
    "outcome.deleted": {
        Lang.ID: "🗑 Tweet warga sudah dihapus; balasan aduan #{number} tidak dikirim.",
        Lang.EN: "🗑 The citizen's tweet was deleted; the reply to complaint #{number} was not sent.",
    },
    # --- commands ----------------------------------------------------------------------
    "cmd.start": {Lang.ID: "Mulai dan lihat bantuan", Lang.EN: "Start and show help"},
    "cmd.bantuan": {Lang.ID: "Bantuan memakai desk", Lang.EN: "How to use the desk"},
    "cmd.antrian": {Lang.ID: "Antrean: aduan yang belum selesai di grup ini",
                    Lang.EN: "Open complaints in this group"},
    "cmd.cari": {Lang.ID: "Cari aduan: kata kunci, nomor, @akun atau tempat",
                 Lang.EN: "Search complaints: words, number, @handle or place"},
    "cmd.daftar": {Lang.ID: "(Admin grup) minta grup ini dihubungkan ke SKPD",
                   Lang.EN: "(Group admin) ask to link this group to an agency"},
    "cmd.hubungkan": {
        Lang.ID: "(Admin triase) kode sekali pakai untuk grup SKPD",
        Lang.EN: "(Triage admin) one-time code for an agency group",
    },
    "cmd.bind": {Lang.ID: "(Admin grup) hubungkan grup dengan kode", Lang.EN: "(Group admin) link this group by code"},
    # /bantuan says what works in the chat it is sent in.
    "help.agency": {
        Lang.ID: "Kemala desk · grup {agency}\n"
        "Kartu aduan untuk SKPD ini muncul di sini.\n"
        "• Klaim: ambil aduan. Balas: tulis jawaban, periksa pratinjau, Kirim ke X.\n"
        "• Salah SKPD?: kembalikan ke triase provinsi dengan alasan.\n"
        "• Balas (reply) pesan kartu untuk catatan internal; catatan tidak pernah dikirim ke X.\n"
        "/antrean: aduan yang belum selesai di grup ini\n"
        "/cari <kata kunci, nomor, @akun atau tempat>: cari aduan SKPD ini\n"
        "/bantuan: bantuan ini",
        Lang.EN: "Kemala desk · {agency} group\n"
        "Complaint cards for this agency appear here.\n"
        "• Claim: take a complaint. Reply: write the answer, check the preview, Send to X.\n"
        "• Wrong agency?: return it to provincial triage with a reason.\n"
        "• Reply to a card's message for an internal note; notes are never posted on X.\n"
        "/antrean: open complaints in this group\n"
        "/cari <words, number, @handle or place>: search this agency's complaints\n"
        "/bantuan: this help",
    },
    "help.triage": {
        Lang.ID: "Kemala desk · grup triase provinsi\n"
        "Aduan yang SKPD-nya belum pasti muncul di sini. Admin grup ini:\n"
        "• pilih SKPD dengan satu tombol, «Pilih SKPD lain…», «Teruskan ke…» untuk urusan kabupaten/kota "
        "atau instansi vertikal, atau Abaikan (dengan konfirmasi; bisa dibatalkan 7 hari).\n"
        "/cari <kata kunci, nomor, @akun atau tempat>: cari semua aduan; hasilnya memuat kartu di sini "
        "dengan tombol triase (mis. untuk mengalihkan aduan yang sudah di SKPD)\n"
        "/antrean: aduan yang menunggu triase\n"
        "/status: yang tertahan\n"
        "/hubungkan <kode SKPD>: kode sekali pakai untuk grup SKPD (dikirim lewat chat pribadi)\n"
        "/lepas <kode SKPD>: putuskan grup SKPD\n"
        "Permintaan /daftar dari grup SKPD muncul di sini dengan Setujui/Tolak.",
        Lang.EN: "Kemala desk · provincial triage group\n"
        "Complaints whose agency is unclear appear here. Admins of this group:\n"
        "• pick the agency with one tap, «Pick another agency…», «Forward to…» for regency/city or "
        "vertical matters, or Dismiss (confirmed; can be undone for 7 days).\n"
        "/cari <words, number, @handle or place>: search all complaints; a result posts the card here "
        "with triage buttons (e.g. to move one already at an agency)\n"
        "/antrean: complaints waiting for triage\n"
        "/status: what is stuck\n"
        "/hubungkan <agency code>: one-time code for an agency group (sent in a private chat)\n"
        "/lepas <agency code>: unlink an agency's group\n"
        "/daftar requests from agency groups appear here with Approve/Reject.",
    },
    "help.unbound": {
        Lang.ID: "Kemala desk: aduan #KemalaJateng untuk SKPD Provinsi Jawa Tengah.\n"
        "Grup ini belum terhubung ke SKPD. Admin grup ini mengirim:\n"
        "/daftar <kode SKPD>, misalnya /daftar dinkes (atau /daftar saja untuk memilih dari tombol); "
        "admin triase provinsi menyetujui, lalu kartu aduan muncul di sini.\n"
        "Punya kode sekali pakai dari admin triase? Kirim /bind <kode>.\n"
        "/bantuan: bantuan ini",
        Lang.EN: "Kemala desk: #KemalaJateng complaints for Central Java's agencies.\n"
        "This group is not linked to an agency yet. An admin of this group sends:\n"
        "/daftar <agency code>, e.g. /daftar dinkes (or just /daftar to pick from buttons); "
        "a provincial triage admin approves, then complaint cards appear here.\n"
        "Have a one-time code from a triage admin? Send /bind <code>.\n"
        "/bantuan: this help",
    },
    "help.private": {
        Lang.ID: "Halo! Kemala desk bekerja di grup Telegram SKPD, bukan di chat pribadi.\n"
        "1. Tambahkan bot ini ke grup SKPD Anda.\n"
        "2. Admin grup mengirim /daftar <kode SKPD> di grup itu.\n"
        "3. Admin triase provinsi menyetujui; kartu aduan lalu muncul di grup.\n"
        "Admin triase: /hubungkan <kode SKPD> di sini memberi kode sekali pakai.",
        Lang.EN: "Hello! Kemala desk works in agency Telegram groups, not in private chats.\n"
        "1. Add this bot to your agency's group.\n"
        "2. A group admin sends /daftar <agency code> there.\n"
        "3. A provincial triage admin approves; complaint cards then appear in the group.\n"
        "Triage admins: /hubungkan <agency code> here gives a one-time code.",
    },
    "search.usage": {
        Lang.ID: "Pakai: /cari <kata kunci, #nomor, @akun atau tempat>, misalnya /cari jalan rusak, /cari 12, "
        "/cari @warga, /cari Sragen",
        Lang.EN: "Usage: /cari <words, #number, @handle or place>, e.g. /cari jalan rusak, /cari 12, "
        "/cari @warga, /cari Sragen",
    },
    "search.title": {Lang.ID: "🔎 Hasil untuk “{query}” ({n})", Lang.EN: "🔎 Results for “{query}” ({n})"},
    "search.none": {
        Lang.ID: "Tidak ada aduan yang cocok dengan “{query}”.",
        Lang.EN: "No complaint matches “{query}”.",
    },
    # --- binding a group to an agency ----------------------------------------------------
    "bind.usage": {
        Lang.ID: "Pakai: /hubungkan <kode SKPD>, misalnya /hubungkan {example}",
        Lang.EN: "Usage: /hubungkan <agency code>, for example /hubungkan {example}",
    },
    "bind.ok": {
        Lang.ID: "✅ Grup ini terhubung ke {agency}. Kartu aduan untuk SKPD ini akan muncul di sini.",
        Lang.EN: "✅ This group is now linked to {agency}. Complaint cards for it will appear here.",
    },
    "bind.triage_ok": {
        Lang.ID: "✅ Grup ini menjadi grup triase.",
        Lang.EN: "✅ This group is now the triage group.",
    },
    "bind.already": {
        Lang.ID: "Grup ini sudah terhubung ke {agency}.",
        Lang.EN: "This group is already linked to {agency}.",
    },
    "bind.moved": {
        Lang.ID: "Grup ini sebelumnya terhubung ke {old}; sekarang ke {agency}.",
        Lang.EN: "This group was linked to {old}; it is now linked to {agency}.",
    },
    "bind.unknown": {
        Lang.ID: "Kode SKPD tidak dikenal: {code}. Contoh kode: {examples}.",
        Lang.EN: "Unknown agency code: {code}. Example codes: {examples}.",
    },
    "bind.not_admin": {
        Lang.ID: "Hanya admin grup yang bisa menghubungkan grup ke SKPD.",
        Lang.EN: "Only a group admin can link the group to an agency.",
    },
    "bind.private": {
        Lang.ID: "Perintah ini hanya bisa dipakai di grup.",
        Lang.EN: "This command only works in a group.",
    },
    "bind.unbound": {
        Lang.ID: "Grup ini belum terhubung ke SKPD. Admin grup ini: /daftar <kode SKPD>.",
        Lang.EN: "This group is not linked to an agency yet. An admin of this group: /daftar <agency code>.",
    },
    "bind.migrated": {
        Lang.ID: "Grup ini menjadi supergroup; hubungan ke {agency} ikut dipindahkan.",
        Lang.EN: "This group became a supergroup; its link to {agency} moved with it.",
    },
    # --- alerts posted in the triage group --------------------------------------------
    "triage.x_cap": {
        Lang.ID: "⚠️ Batas pemakaian X tercapai ({used}/{cap} post dibaca). Penarikan aduan berhenti "
        "sampai {reset}.",
        Lang.EN: "⚠️ X usage cap reached ({used}/{cap} posts read). Fetching complaints is paused "
        "until {reset}.",
    },
    "triage.x_down": {
        Lang.ID: "⚠️ X tidak menjawab sejak {minutes} menit lalu ({detail}). Aduan baru belum masuk; bot "
        "terus mencoba tiap putaran dan memberi tahu di sini saat pulih.",
        Lang.EN: "⚠️ X has not answered for {minutes} min ({detail}). New complaints are not coming in; the "
        "bot keeps trying every round and will say here when it recovers.",
    },
    "triage.x_up": {
        Lang.ID: "✅ X menjawab lagi setelah gangguan {minutes} menit; aduan yang tertunda sedang ditarik.",
        Lang.EN: "✅ X answers again after a {minutes}-minute outage; the complaints that waited are being fetched.",
    },
    "triage.x_401": {
        Lang.ID: "⛔ X menolak kredensial bot (401 Unauthorized). Penarikan aduan dan pengiriman balasan "
        "berhenti; admin perlu memperbarui token X.",
        Lang.EN: "⛔ X rejected the bot's credentials (401 Unauthorized). Fetching and replying are "
        "stopped; an admin must renew the X token.",
    },
    "triage.budget": {
        Lang.ID: "💸 Anggaran X bulan ini sudah {pct}% terpakai (${spent} dari ${budget}).",
        Lang.EN: "💸 {pct}% of this month's X budget is spent (${spent} of ${budget}).",
    },
    "triage.kicked": {
        Lang.ID: "🚫 Bot dikeluarkan dari grup {group} ({agency}). Kartu untuk SKPD ini ditahan; "
        "tambahkan bot kembali lalu jalankan /hubungkan.",
        Lang.EN: "🚫 The bot was removed from the group {group} ({agency}). Cards for this agency are "
        "held; add the bot back and run /hubungkan.",
    },
    # --- queue listing -------------------------------------------------------------------
    "queue.title": {
        Lang.ID: "📋 Antrean: {n} aduan belum selesai",
        Lang.EN: "📋 Queue: {n} open complaint(s)",
    },
    "queue.empty": {Lang.ID: "🎉 Antrean kosong.", Lang.EN: "🎉 The queue is empty."},
    "queue.item": {
        Lang.ID: "#{number} · {status} · {who} · {age}",
        Lang.EN: "#{number} · {status} · {who} · {age}",
    },
    "queue.unclaimed": {Lang.ID: "belum diklaim", Lang.EN: "unclaimed"},
    "queue.more": {Lang.ID: "…dan {n} lainnya", Lang.EN: "…and {n} more"},
    # --- /status in the triage group -----------------------------------------------------
    "cmd.status": {
        Lang.ID: "Yang tertahan: kartu, balasan, postingan",
        Lang.EN: "What is stuck: cards, replies, posts",
    },
    "desk_status.title": {Lang.ID: "🩺 Status meja Kemala", Lang.EN: "🩺 Kemala desk status"},
    "desk_status.only_triage": {
        Lang.ID: "Perintah /status hanya untuk grup triase provinsi.",
        Lang.EN: "/status is for the provincial triage group only.",
    },
    "desk_status.unclaimed": {
        Lang.ID: "📥 Belum diklaim: {n} aduan (terlama menunggu {age})",
        Lang.EN: "📥 Unclaimed: {n} complaint(s) (oldest waiting {age})",
    },
    "desk_status.unclaimed_none": {Lang.ID: "📥 Belum diklaim: tidak ada", Lang.EN: "📥 Unclaimed: none"},
    "desk_status.cards": {
        Lang.ID: "🗂 Kartu tertahan atau gagal: {n}",
        Lang.EN: "🗂 Cards parked or failed: {n}",
    },
    "desk_status.replies": {
        Lang.ID: "✉️ Balasan ditolak X: {rejected} · belum pasti terkirim: {unknown}",
        Lang.EN: "✉️ Replies rejected by X: {rejected} · outcome unknown: {unknown}",
    },
    "desk_status.posts": {Lang.ID: "🧾 Postingan tertahan: {n}", Lang.EN: "🧾 Posts parked: {n}"},
    "desk_status.groups": {
        Lang.ID: "🚪 Grup yang mengeluarkan bot: {names}",
        Lang.EN: "🚪 Groups that removed the bot: {names}",
    },
    "desk_status.x_paused": {
        Lang.ID: "⏸ Membaca X dijeda ({why}) sejak {since}",
        Lang.EN: "⏸ Reading X paused ({why}) since {since}",
    },
    "desk_status.x_ok": {Lang.ID: "▶️ Membaca X: berjalan", Lang.EN: "▶️ Reading X: running"},
    "desk_status.waiting": {
        Lang.ID: "⏳ Antrean kirim terlama: kartu {cards} · balasan {replies}",
        Lang.EN: "⏳ Oldest waiting to send: card {cards} · reply {replies}",
    },
    "desk_status.hint": {
        Lang.ID: "Operator: kemala status untuk rincian, kemala status retry … untuk mengulang.",
        Lang.EN: "Operators: kemala status for details, kemala status retry … to retry.",
    },
    # --- ages and dates ------------------------------------------------------------------
    "age.now": {Lang.ID: "baru saja", Lang.EN: "just now"},
    "age.minutes": {Lang.ID: "{m} mnt", Lang.EN: "{m} min"},
    "age.hours": {Lang.ID: "{h} jam {m} mnt", Lang.EN: "{h} h {m} min"},
    "age.days": {Lang.ID: "{d} hari", Lang.EN: "{d} d"},
    "time.months": {
        Lang.ID: "Jan Feb Mar Apr Mei Jun Jul Agu Sep Okt Nov Des",
        Lang.EN: "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
    },
    # --- issue 11 item 3: binding groups safely (private codes, rate limit, confirmed re-binds) ---------
    "bind.triage_config": {
        Lang.ID: "⛔ Grup triase hanya diatur lewat konfigurasi (KEMALA_TRIAGE_CHAT_ID), tidak lewat kode. "
        "Pakai /hubungkan <kode SKPD> untuk grup SKPD.",
        Lang.EN: "⛔ The triage group is set by configuration only (KEMALA_TRIAGE_CHAT_ID), never by a code. "
        "Use /hubungkan <agency code> for an agency group.",
    },
    "bind.code_private": {
        Lang.ID: "🔑 Kode sekali pakai untuk {agency}: {code}\n"
        "Berlaku 10 menit, hanya untuk {agency}. Berikan hanya kepada admin grup SKPD itu; "
        "mereka mengirim /bind {code} di grup mereka. Jangan kirim kode ini di grup triase.",
        Lang.EN: "🔑 One-time code for {agency}: {code}\n"
        "Valid 10 minutes, for {agency} only. Give it only to an admin of that agency's group; "
        "they send /bind {code} there. Never post this code in the triage group.",
    },
    "bind.code_sent": {
        Lang.ID: "🔑 Kode penghubung untuk {agency} dikirim ke {name} lewat chat pribadi dengan bot.",
        Lang.EN: "🔑 The link code for {agency} was sent to {name} in a private chat with the bot.",
    },
    "bind.code_link": {
        Lang.ID: "🔑 {name}, bot belum bisa mengirim pesan pribadi kepada Anda. Buka {link} dan tekan Mulai "
        "(Start): kode untuk {agency} dikirim di sana.",
        Lang.EN: "🔑 {name}, the bot cannot message you privately yet. Open {link} and press Start: "
        "the code for {agency} is sent there.",
    },
    "bind.rate_limited": {
        Lang.ID: "⛔ Terlalu banyak percobaan /bind yang gagal dari Anda atau grup ini. Coba lagi dalam "
        "{minutes} menit dengan kode baru dari admin triase.",
        Lang.EN: "⛔ Too many failed /bind attempts from you or this group. Try again in {minutes} minutes "
        "with a new code from a triage admin.",
    },
    "bind.pending": {
        Lang.ID: "⏳ {agency} sudah terhubung ke grup lain. Pemindahan ke grup ini menunggu persetujuan "
        "admin triase.",
        Lang.EN: "⏳ {agency} is already linked to another group. Moving it to this group awaits a triage "
        "admin's approval.",
    },
    "bind.request": {
        Lang.ID: "🔁 Permintaan memindahkan {agency} dari grup {old} ke grup {group} (chat {chat_id}), "
        "oleh {name}. Admin triase: setujui atau tolak.",
        Lang.EN: "🔁 Request to move {agency} from the group {old} to the group {group} (chat {chat_id}), "
        "by {name}. Triage admins: approve or reject.",
    },
    "btn.bind_ok": {Lang.ID: "✅ Setujui", Lang.EN: "✅ Approve"},
    "btn.bind_no": {Lang.ID: "❌ Tolak", Lang.EN: "❌ Reject"},
    "bind.approved": {
        Lang.ID: "✅ {admin} menyetujui: {agency} sekarang terhubung ke grup {group}; grup {old} tidak lagi "
        "terhubung.",
        Lang.EN: "✅ {admin} approved: {agency} is now linked to the group {group}; the group {old} is no "
        "longer linked.",
    },
    "bind.rejected": {
        Lang.ID: "❌ {admin} menolak: {agency} tetap terhubung ke grup {old}, bukan {group}.",
        Lang.EN: "❌ {admin} rejected: {agency} stays linked to the group {old}, not {group}.",
    },
    "bind.group_approved": {
        Lang.ID: "✅ Admin triase menyetujui: grup ini sekarang terhubung ke {agency}.",
        Lang.EN: "✅ A triage admin approved: this group is now linked to {agency}.",
    },
    "bind.group_rejected": {
        Lang.ID: "❌ Admin triase menolak: grup ini tidak dihubungkan ke {agency}.",
        Lang.EN: "❌ A triage admin rejected it: this group is not linked to {agency}.",
    },
    "bind.announce": {
        Lang.ID: "🔗 Grup {group} (chat {chat_id}) sekarang terhubung ke {agency}, oleh {name}.",
        Lang.EN: "🔗 The group {group} (chat {chat_id}) is now linked to {agency}, by {name}.",
    },
    "bind.decided": {
        Lang.ID: "Permintaan ini sudah diputuskan.",
        Lang.EN: "This request was already decided.",
    },
    "bind.request_expired": {
        Lang.ID: "Permintaan ini sudah kedaluwarsa; admin grup perlu kode baru.",
        Lang.EN: "This request has expired; the group admin needs a new code.",
    },
    "ok.bind_approved": {Lang.ID: "Disetujui", Lang.EN: "Approved"},
    "ok.bind_rejected": {Lang.ID: "Ditolak", Lang.EN: "Rejected"},
    # --- issue 11 item 2: reconciliation never adopts a look-alike post
    "triage.near_match": {
        Lang.ID: "⚠️ Balasan aduan #{number} tidak dicatat terkirim: di X ada posting desk ({x_id}) yang mirip "
        "tetapi tidak bisa dipastikan balasan ini. Periksa di X, lalu minta petugas mengirim ulang bila perlu.",
        Lang.EN: "⚠️ The reply to complaint #{number} was not recorded as sent: the desk has a post on X "
        "({x_id}) that looks like it but is not provably it. Check on X, then have staff send again if needed.",
    },
    # --- issue 11 item 8: other citizens' complaints in the same conversation
    "card.related": {Lang.ID: "🔗 Aduan terkait {items}", Lang.EN: "🔗 Related complaints {items}"},
    # --- issue 11 item 9: what a reply must not be, and what it costs
    "alert.secret_in_reply": {
        Lang.ID: "⛔ Balasan ditolak: teksnya memuat token atau kunci rahasia. Tulis ulang tanpa itu, dan "
        "minta admin mengganti kunci tersebut bila sudah tersebar.",
        Lang.EN: "⛔ Reply refused: the text contains a token or secret key. Write it again without it, and "
        "ask an admin to rotate that key if it was shared.",
    },
    "draft.warn_url_only": {
        Lang.ID: "⚠️ Balasan hanya berisi tautan: warga tidak mendapat penjelasan. Tambahkan kalimat.",
        Lang.EN: "⚠️ The reply is only a link: the citizen gets no explanation. Add a sentence.",
    },
    "draft.warn_mention_only": {
        Lang.ID: "⚠️ Balasan hanya menyebut akun (@…) tanpa kata-kata: warga tidak mendapat jawaban.",
        Lang.EN: "⚠️ The reply only mentions accounts (@…) without words: the citizen gets no answer.",
    },
    "draft.cost_url": {
        Lang.ID: "💲 Berisi tautan: biaya X {price} per post (tanpa tautan {plain}).",
        Lang.EN: "💲 Contains a link: X charges {price} per post ({plain} without a link).",
    },
    "draft.cost_plain": {
        Lang.ID: "💲 Biaya X {plain} per post (dengan tautan {price}).",
        Lang.EN: "💲 X charges {plain} per post ({price} with a link).",
    },
    "outcome.todo_near_match": {
        Lang.ID: "Di X ada posting mirip yang belum pasti balasan ini; cek X, lalu tulis dan kirim ulang bila "
        "warga belum dijawab.",
        Lang.EN: "There is a similar post on X that may not be this reply; check X, then write and send "
        "again if the citizen has no answer.",
    },
    # --- issue 16: the first hour for staff ----------------------------------------------------------
    "card.triage_unclear": {
        Lang.ID: "👇 Pilih SKPD di bawah, teruskan, atau abaikan",
        Lang.EN: "👇 Pick the agency below, forward, or dismiss",
    },
    "card.why_triage": {Lang.ID: "🧭 Alasan: {reasons}", Lang.EN: "🧭 Why: {reasons}"},
    "card.candidate_why": {Lang.ID: "• {name}: {why}", Lang.EN: "• {name}: {why}"},
    "card.candidates_head": {Lang.ID: "Kandidat:", Lang.EN: "Candidates:"},
    "card.forwarded": {
        Lang.ID: "📨 Diteruskan ke {who} oleh {by}",
        Lang.EN: "📨 Forwarded to {who} by {by}",
    },
    "card.dismissed": {Lang.ID: "🗑 Diabaikan oleh {by}: {reason}", Lang.EN: "🗑 Dismissed by {by}: {reason}"},
    "card.notes": {Lang.ID: "📝 {n} catatan · terakhir {name}: {text}",
                   Lang.EN: "📝 {n} note(s) · latest {name}: {text}"},
    "card.elsewhere": {
        Lang.ID: "📍 Sedang di {agency} · salinan untuk triase",
        Lang.EN: "📍 Now at {agency} · a copy for triage",
    },
    "btn.forward": {Lang.ID: "Teruskan ke {who}", Lang.EN: "Forward to {who}"},
    "btn.forward_other": {Lang.ID: "Teruskan ke…", Lang.EN: "Forward to…"},
    "btn.reassign_triage": {Lang.ID: "Alihkan ke SKPD lain…", Lang.EN: "Move to another agency…"},
    "btn.dismiss_yes": {Lang.ID: "Ya, abaikan", Lang.EN: "Yes, dismiss"},
    "btn.undismiss": {Lang.ID: "↩️ Batalkan abaikan", Lang.EN: "↩️ Undo dismiss"},
    "btn.open": {Lang.ID: "#{number} · {label}", Lang.EN: "#{number} · {label}"},
    "btn.reply_under": {Lang.ID: "Kirim di bawah tindak lanjut", Lang.EN: "Send under the follow-up"},
    "picker.dismiss": {Lang.ID: "Abaikan aduan #{number}? Pilih alasannya:",
                       Lang.EN: "Dismiss complaint #{number}? Pick why:"},
    "picker.forward": {
        Lang.ID: "Teruskan aduan #{number} ke mana?",
        Lang.EN: "Forward complaint #{number} where?",
    },
    "prompt.reason": {
        Lang.ID: "@{username} tulis alasan untuk aduan #{number} ({what}) dengan membalas pesan ini.",
        Lang.EN: "@{username} write the reason for complaint #{number} ({what}) by replying to this message.",
    },
    "prompt.reason_body": {
        Lang.ID: "tulis alasan untuk aduan #{number} ({what}) dengan membalas pesan ini.",
        Lang.EN: "write the reason for complaint #{number} ({what}) by replying to this message.",
    },
    "prompt.reason_placeholder": {Lang.ID: "Alasan untuk #{number}", Lang.EN: "Reason for #{number}"},
    "what.reassign": {Lang.ID: "alihkan ke {agency}", Lang.EN: "move to {agency}"},
    "what.return": {Lang.ID: "salah SKPD", Lang.EN: "wrong agency"},
    "what.dismiss": {Lang.ID: "abaikan", Lang.EN: "dismiss"},
    "what.forward": {Lang.ID: "teruskan ke {agency}", Lang.EN: "forward to {agency}"},
    "alert.reason_empty": {Lang.ID: "Alasan kosong; tulis alasannya.", Lang.EN: "The reason is empty; write it."},
    "alert.reason_long": {
        Lang.ID: "Alasan terlalu panjang ({n}/{limit} karakter); persingkat.",
        Lang.EN: "The reason is too long ({n}/{limit} characters); shorten it.",
    },
    "alert.forward_answered": {
        Lang.ID: "Aduan #{number} sudah dijawab; tidak bisa diteruskan lagi.",
        Lang.EN: "Complaint #{number} is already answered; it can no longer be forwarded.",
    },
    "alert.forward_not_destination": {
        Lang.ID: "Tujuan itu bukan pemkab/pemkot atau instansi vertikal.",
        Lang.EN: "That destination is not a regency/city government or a vertical body.",
    },
    "alert.undo_expired": {
        Lang.ID: "Abaikan hanya bisa dibatalkan dalam {days} hari.",
        Lang.EN: "A dismissal can only be undone within {days} days.",
    },
    "ok.forwarded": {Lang.ID: "Aduan #{number} diteruskan ke {who}.",
                     Lang.EN: "Complaint #{number} forwarded to {who}."},
    "ok.undismissed": {
        Lang.ID: "Abaikan dibatalkan: aduan #{number} kembali ke triase.",
        Lang.EN: "Dismissal undone: complaint #{number} is back in triage.",
    },
    "ok.note": {Lang.ID: "📝 Catatan internal untuk aduan #{number} disimpan; catatan tidak dikirim ke X. "
                "Untuk menjawab warga: Klaim lalu Balas.",
                Lang.EN: "📝 Internal note on complaint #{number} saved; notes are never posted on X. "
                "To answer the citizen: Claim, then Reply."},
    "ok.reposted": {Lang.ID: "Kartu #{number} dimuat di sini.", Lang.EN: "Card #{number} posted here."},
    # The citizen's answer when triage forwards a matter (posted on X: plain, short, no internal words).
    "forward.citizen": {
        Lang.ID: "Terima kasih atas laporannya. Aduan ini merupakan kewenangan {who}{handle}; kami teruskan ke "
        "sana untuk ditindaklanjuti.",
        Lang.EN: "Thank you for your report. This matter is for {who}{handle}; we have forwarded it to them.",
    },
    "forward.citizen_handle": {Lang.ID: " ({handle})", Lang.EN: " ({handle})"},
    "outcome.preview_posted": {
        Lang.ID: "✅ Terkirim ke X: balasan aduan #{number} (oleh {name}). {link}",
        Lang.EN: "✅ Posted on X: the reply to complaint #{number} (by {name}). {link}",
    },
    "outcome.preview_rejected": {
        Lang.ID: "❌ X menolak balasan aduan #{number}: {reason}",
        Lang.EN: "❌ X rejected the reply to complaint #{number}: {reason}",
    },
    # X's refusal codes in staff's words (anything else: the generic one with X's own words).
    "xreject.duplicate": {Lang.ID: "teks yang sama sudah pernah dikirim", Lang.EN: "the same text was already posted"},
    "xreject.not_mentioned": {
        Lang.ID: "warga tidak menyebut akun desk, jadi X tidak mengizinkan balasan di utas",
        Lang.EN: "the citizen did not mention the desk's account, so X does not allow a reply in the thread",
    },
    "xreject.deleted": {Lang.ID: "tweet warga sudah dihapus", Lang.EN: "the citizen's tweet was deleted"},
    "xreject.too_long": {Lang.ID: "teks terlalu panjang untuk X", Lang.EN: "the text is too long for X"},
    "xreject.forbidden": {Lang.ID: "X tidak mengizinkan post ini", Lang.EN: "X does not allow this post"},
    "xreject.near_match": {
        Lang.ID: "di X ada post desk yang mirip, belum pasti balasan ini",
        Lang.EN: "the desk has a similar post on X that may not be this reply",
    },
    "xreject.invalid_text": {Lang.ID: "X tidak menerima teks ini", Lang.EN: "X does not accept this text"},
    "xreject.other": {Lang.ID: "alasan dari X: {detail}", Lang.EN: "X's reason: {detail}"},
    # /daftar: a group asks to be linked, triage approves with one tap.
    "daftar.usage": {
        Lang.ID: "Pilih SKPD untuk grup ini, atau kirim /daftar <kode SKPD> (mis. /daftar dinkes):",
        Lang.EN: "Pick the agency for this group, or send /daftar <agency code> (e.g. /daftar dinkes):",
    },
    "daftar.unknown": {
        Lang.ID: "Kode SKPD tidak dikenal: {code}. Kirim /daftar tanpa kode untuk memilih dari daftar.",
        Lang.EN: "Unknown agency code: {code}. Send /daftar without a code to pick from the list.",
    },
    "daftar.not_provincial": {
        Lang.ID: "{agency} bukan SKPD provinsi, jadi tidak punya grup di desk ini.",
        Lang.EN: "{agency} is not a provincial agency, so it has no group on this desk.",
    },
    "daftar.sent": {
        Lang.ID: "⏳ Permintaan menghubungkan grup ini ke {agency} dikirim ke admin triase provinsi. "
        "Grup ini diberi tahu setelah diputuskan.",
        Lang.EN: "⏳ The request to link this group to {agency} was sent to the provincial triage admins. "
        "This group is told once it is decided.",
    },
    "daftar.already": {
        Lang.ID: "Grup ini sudah terhubung ke {agency}.",
        Lang.EN: "This group is already linked to {agency}.",
    },
    "daftar.pending": {
        Lang.ID: "Permintaan untuk grup ini masih menunggu admin triase.",
        Lang.EN: "A request for this group is still waiting for the triage admins.",
    },
    "daftar.triage": {
        Lang.ID: "Ini grup triase provinsi; grup ini tidak dihubungkan ke SKPD.",
        Lang.EN: "This is the provincial triage group; it is not linked to an agency.",
    },
    "daftar.request": {
        Lang.ID: "🆕 Grup «{group}» (admin {admin}) minta dihubungkan ke {agency}.{current}",
        Lang.EN: "🆕 The group «{group}» (admin {admin}) asks to be linked to {agency}.{current}",
    },
    "daftar.request_current": {
        Lang.ID: " {agency} sekarang terhubung ke grup «{old}»; menyetujui memindahkannya.",
        Lang.EN: " {agency} is now linked to «{old}»; approving moves it.",
    },
    "daftar.approved": {
        Lang.ID: "✅ {admin} menyetujui: grup {group} sekarang terhubung ke {agency}.",
        Lang.EN: "✅ {admin} approved: the group {group} is now linked to {agency}.",
    },
    "daftar.rejected": {
        Lang.ID: "❌ {admin} menolak: grup {group} tidak dihubungkan ke {agency}.",
        Lang.EN: "❌ {admin} rejected: the group {group} is not linked to {agency}.",
    },
    "daftar.no_triage": {
        Lang.ID: "Grup triase provinsi belum diatur; minta operator mengatur KEMALA_TRIAGE_CHAT_ID.",
        Lang.EN: "The provincial triage group is not set up; ask the operator to set KEMALA_TRIAGE_CHAT_ID.",
    },
    "welcome.group": {
        Lang.ID: "👋 Terima kasih sudah menambahkan Kemala desk. Agar kartu aduan SKPD muncul di grup ini, "
        "admin grup mengirim /daftar <kode SKPD> (atau /daftar untuk memilih). /bantuan untuk panduan.",
        Lang.EN: "👋 Thanks for adding Kemala desk. For an agency's complaint cards to appear here, a group "
        "admin sends /daftar <agency code> (or /daftar to pick). /bantuan for help.",
    },
    "ok.bound_here": {
        Lang.ID: "👋 Kemala desk kembali. Grup ini terhubung ke {agency}. /bantuan untuk panduan.",
        Lang.EN: "👋 Kemala desk is back. This group is linked to {agency}. /bantuan for help.",
    },
    "welcome.triage": {
        Lang.ID: "👋 Kemala desk siap di grup triase provinsi. /bantuan untuk panduan.",
        Lang.EN: "👋 Kemala desk is ready in the provincial triage group. /bantuan for help.",
    },
    "unbind.usage": {Lang.ID: "Pakai: /lepas <kode SKPD>", Lang.EN: "Usage: /lepas <agency code>"},
    "unbind.ok": {
        Lang.ID: "🔌 Grup {agency} diputuskan; {n} kartu ditahan sampai grup baru terhubung.",
        Lang.EN: "🔌 {agency}'s group is unlinked; {n} card(s) wait until a new group is linked.",
    },
    "unbind.none": {Lang.ID: "{code} tidak punya grup yang terhubung.", Lang.EN: "{code} has no linked group."},
    "unbind.group": {
        Lang.ID: "🔌 Admin triase memutuskan grup ini dari {agency}; kartu aduan tidak lagi muncul di sini.",
        Lang.EN: "🔌 A triage admin unlinked this group from {agency}; complaint cards no longer appear here.",
    },
    # /cari
    "search.bad": {
        Lang.ID: "Nomor aduan tidak dikenal: {query}. Nomor aduan berupa angka, mis. /cari 12.",
        Lang.EN: "Not a complaint number: {query}. Numbers are digits, e.g. /cari 12.",
    },
    "search.here_only": {
        Lang.ID: "Aduan #{number} tidak ditangani grup ini.",
        Lang.EN: "Complaint #{number} is not handled by this group.",
    },
    "search.more": {Lang.ID: "(menampilkan {shown} terbaru)", Lang.EN: "(showing the {shown} newest)"},
    "search.pick": {Lang.ID: "Tekan untuk memuat kartunya di sini.", Lang.EN: "Press one to post its card here."},
    "search.notes_head": {Lang.ID: "📝 Catatan #{number}:", Lang.EN: "📝 Notes on #{number}:"},
    "search.note": {Lang.ID: "• {when} {name}: {text}", Lang.EN: "• {when} {name}: {text}"},
    "search.unbound": {
        Lang.ID: "/cari bekerja di grup SKPD yang terhubung dan di grup triase.",
        Lang.EN: "/cari works in a linked agency group and in the triage group.",
    },
}

# None: strict while pytest runs a test (PYTEST_CURRENT_TEST), lenient in production.
_strict: bool | None = None


def set_strict(value: bool | None) -> None:
    """Force strict (raise) or lenient (fall back) lookups; None restores the automatic choice."""
    global _strict
    _strict = value


def _is_strict() -> bool:
    if _strict is not None:
        return _strict
    return "PYTEST_CURRENT_TEST" in os.environ


def t(key: str, lang: Lang = Lang.ID, **kw: object) -> str:
    """Look up `key` in `lang` and str.format it with `kw`."""
    try:
        entry = CATALOGUE[key]
    except KeyError:
        if _is_strict():
            raise
        # A typo must never take a button press down in production: show the key.
        _log.warning("i18n: missing key %r", key)
        return key
    template = entry.get(lang) or entry[Lang.ID]
    try:
        return template.format(**kw)
    except (KeyError, IndexError, ValueError):
        if _is_strict():
            raise
        _log.warning("i18n: cannot format %r with %s", key, sorted(kw))
        return template


def lang_from_code(code: str | None) -> Lang:
    """Map a Telegram `language_code` (e.g. "en-GB") to a desk language; Indonesian otherwise."""
    if code and code.lower().split("-")[0] == Lang.EN.value:
        return Lang.EN
    return Lang.ID


class Texts:
    """The catalogue bound to one language: `T = Texts(Lang.EN); T("btn.claim")`."""

    __slots__ = ("lang",)

    def __init__(self, lang: Lang = Lang.ID) -> None:
        self.lang = lang

    def __call__(self, key: str, **kw: object) -> str:
        return t(key, self.lang, **kw)

    def __repr__(self) -> str:
        return f"Texts({self.lang!r})"
