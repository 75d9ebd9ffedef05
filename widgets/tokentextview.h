// A generated text shown token by token (the Generate tab's columns): pieces are appended
// as they stream in; once the comparison is known, each token gets a tooltip (the float
// model's probability of it, the KL there) and the first token where a run leaves the float
// text is highlighted. The tooltip is looked up from the character under the mouse, so it
// belongs to exactly one token.
#pragma once

#include <QStringList>
#include <QTextEdit>

#include <vector>

namespace ql {

class TokenTextView : public QTextEdit {
    Q_OBJECT
public:
    explicit TokenTextView(QWidget* parent = nullptr);

    void clearTokens();
    void appendToken(const QString& piece);  // while streaming: plain text, no tooltips
    // The final tokens with one tooltip each (empty: none) and the token to highlight
    // (-1: none). Replaces what was streamed.
    void setTokens(const QStringList& pieces, const QStringList& toolTips, int highlight);

    int tokenCount() const { return int(starts_.size()); }
    const QStringList& pieces() const { return pieces_; }
    QString text() const { return pieces_.join(QString()); }
    int highlightedToken() const { return highlight_; }
    int tokenAtPosition(int characterPosition) const;  // -1 outside every token
    int tokenAt(const QPoint& viewportPoint) const;    // -1 outside every token
    QString tokenToolTip(int token) const;             // empty without one
    QRect tokenRect(int token) const;                  // in viewport coordinates
    QColor highlightColor() const;

protected:
    bool viewportEvent(QEvent* event) override;

private:
    void appendPiece(const QString& piece, bool highlighted);

    QStringList pieces_, toolTips_;
    std::vector<int> starts_;  // character position of each token in the document
    int highlight_ = -1;
};

}  // namespace ql
