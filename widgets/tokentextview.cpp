#include "widgets/tokentextview.h"

#include "widgets/plotstyle.h"

#include <QHelpEvent>
#include <QScrollBar>
#include <QTextBlock>
#include <QTextCursor>
#include <QToolTip>

#include <algorithm>

namespace ql {

TokenTextView::TokenTextView(QWidget* parent) : QTextEdit(parent) {
    setReadOnly(true);
    setAcceptRichText(false);
    setLineWrapMode(QTextEdit::WidgetWidth);
    setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
}

void TokenTextView::clearTokens() {
    pieces_.clear();
    toolTips_.clear();
    starts_.clear();
    highlight_ = -1;
    clear();
}

QColor TokenTextView::highlightColor() const {
    return isDarkPalette(palette()) ? QColor(150, 60, 40) : QColor(255, 200, 120);
}

void TokenTextView::appendPiece(const QString& piece, bool highlighted) {
    QTextCursor cursor(document());
    cursor.movePosition(QTextCursor::End);
    starts_.push_back(cursor.position());
    pieces_.append(piece);
    QTextCharFormat format;
    if (highlighted) {
        format.setBackground(highlightColor());
        format.setFontWeight(QFont::Bold);
    }
    cursor.insertText(piece, format);  // empty: a token inside a UTF-8 character
}

void TokenTextView::appendToken(const QString& piece) {
    const bool atEnd = verticalScrollBar()->value() == verticalScrollBar()->maximum();
    appendPiece(piece, false);
    if (atEnd) verticalScrollBar()->setValue(verticalScrollBar()->maximum());
}

void TokenTextView::setTokens(const QStringList& pieces, const QStringList& toolTips,
                              int highlight) {
    clearTokens();
    highlight_ = highlight >= 0 && highlight < pieces.size() ? highlight : -1;
    for (int i = 0; i < pieces.size(); ++i) appendPiece(pieces[i], i == highlight_);
    toolTips_ = toolTips;
}

int TokenTextView::tokenAtPosition(int characterPosition) const {
    if (starts_.empty() || characterPosition < starts_.front()) return -1;
    const int end = document()->characterCount() - 1;  // the last block's separator
    if (characterPosition >= end) return -1;
    const auto it = std::upper_bound(starts_.begin(), starts_.end(), characterPosition);
    return int(it - starts_.begin()) - 1;
}

int TokenTextView::tokenAt(const QPoint& viewportPoint) const {
    const QTextCursor cursor = cursorForPosition(viewportPoint);
    const int token = tokenAtPosition(cursor.position());
    // cursorForPosition gives the nearest gap between characters: the token is the one
    // whose rectangle holds the point (the character before or after the gap).
    for (const int t : {token, tokenAtPosition(cursor.position() - 1)})
        if (t >= 0 && tokenRect(t).contains(viewportPoint)) return t;
    return -1;
}

QRect TokenTextView::tokenRect(int token) const {
    if (token < 0 || token >= tokenCount()) return {};
    const int end =
        token + 1 < tokenCount() ? starts_[size_t(token) + 1] : document()->characterCount() - 1;
    QTextCursor cursor(document());
    cursor.setPosition(starts_[size_t(token)]);
    QRect rect = cursorRect(cursor);
    for (int pos = starts_[size_t(token)] + 1; pos <= end; ++pos) {
        cursor.setPosition(pos);
        rect = rect.united(cursorRect(cursor));
    }
    return rect;
}

QString TokenTextView::tokenToolTip(int token) const {
    return token >= 0 && token < toolTips_.size() ? toolTips_[token] : QString();
}

// Tooltip events of a scroll area arrive at its viewport, in viewport coordinates.
bool TokenTextView::viewportEvent(QEvent* event) {
    if (event->type() == QEvent::ToolTip) {
        const auto* help = static_cast<QHelpEvent*>(event);
        const int token = tokenAt(help->pos());
        const QString tip = tokenToolTip(token);
        if (tip.isEmpty())
            QToolTip::hideText();
        else
            QToolTip::showText(help->globalPos(), tip, viewport(), tokenRect(token));
        return true;
    }
    return QTextEdit::viewportEvent(event);
}

}  // namespace ql
