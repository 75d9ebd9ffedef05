#include "app/gui/generatetips.h"

namespace ql {

namespace {

QString prob(double p) {
    return QString::number(p, 'f', p >= 0.001 ? 4 : 6);
}

QString kl(double nats) {
    return QString::number(nats, 'g', 4) + " nats";
}

// The lines for position `i` of the float text, as run `r` (an output index ≥ 1) saw it.
QString runLines(const GenerationComparison& c, int r, size_t i) {
    const GeneratedText& run = c.outputs[size_t(r)];
    if (i >= run.perToken.size()) return {};
    const TokenComparison& t = run.perToken[i];
    return QString("%1: KL %2; its top token %3 (float p %4)")
        .arg(QString::fromStdString(run.name).toHtmlEscaped(), kl(t.kl),
             quotedPiece(run.runTokenPieces[i]).toHtmlEscaped(), prob(t.floatProbOfRunToken));
}

QString floatTip(const GenerationComparison& c, size_t i) {
    const GeneratedText& f = c.outputs[0];
    QStringList lines{
        QString("<b>float token %1</b> %2").arg(i).arg(quotedPiece(f.pieces[i]).toHtmlEscaped())};
    if (c.outputs.size() > 1 && i < c.outputs[1].perToken.size())
        lines << QString("float p of it: %1")
                     .arg(prob(c.outputs[1].perToken[i].floatProbOfFloatToken));
    for (size_t r = 1; r < c.outputs.size(); ++r)
        if (const QString l = runLines(c, int(r), i); !l.isEmpty()) lines << l;
    return "<qt>" + lines.join("<br>") + "</qt>";
}

QString runTip(const GenerationComparison& c, int r, size_t i) {
    const GeneratedText& run = c.outputs[size_t(r)];
    const GeneratedText& f = c.outputs[0];
    QStringList lines{QString("<b>%1, token %2</b> %3")
                          .arg(QString::fromStdString(run.name).toHtmlEscaped())
                          .arg(i)
                          .arg(quotedPiece(run.pieces[i]).toHtmlEscaped())};
    const bool samePrefix = run.firstDivergence < 0 || int(i) <= run.firstDivergence;
    if (i >= run.perToken.size()) {
        lines << "beyond the float text: no teacher-forced numbers";
    } else {
        const TokenComparison& t = run.perToken[i];
        if (samePrefix && t.runToken == run.tokens[i])
            lines << QString("float p of this token: %1").arg(prob(t.floatProbOfRunToken));
        if (!samePrefix)
            lines << QString("after the divergence (token %1); at float position %2:")
                         .arg(run.firstDivergence)
                         .arg(i);
        lines << QString("float token %1 (float p %2)")
                     .arg(quotedPiece(f.pieces[i]).toHtmlEscaped(), prob(t.floatProbOfFloatToken));
        lines << QString("run's top token %1 (float p %2)")
                     .arg(quotedPiece(run.runTokenPieces[i]).toHtmlEscaped(),
                          prob(t.floatProbOfRunToken));
        lines << QString("KL(float ‖ run) %1").arg(kl(t.kl));
    }
    if (int(i) == run.firstDivergence) lines.prepend("<b>first token that differs from float</b>");
    return "<qt>" + lines.join("<br>") + "</qt>";
}

}  // namespace

QStringList shownPieces(const GeneratedText& out) {
    QStringList pieces;
    const std::vector<std::string>& shares = out.textPieces;
    const size_t n = out.stopped && !shares.empty() ? shares.size() - 1 : shares.size();
    for (size_t i = 0; i < n; ++i) pieces << QString::fromStdString(shares[i]);
    return pieces;
}

QString quotedPiece(const std::string& piece) {
    QString s = QString::fromStdString(piece);
    s.replace('\n', QString("\u23ce")).replace('\t', QString("\u21e5"));
    return "\u201c" + s + "\u201d";
}

QStringList tokenToolTips(const GenerationComparison& c, int output) {
    QStringList tips;
    if (output < 0 || output >= int(c.outputs.size())) return tips;
    const int n = int(shownPieces(c.outputs[size_t(output)]).size());
    for (int i = 0; i < n; ++i)
        tips << (output == 0 ? floatTip(c, size_t(i)) : runTip(c, output, size_t(i)));
    return tips;
}

QString columnHeader(const GenerationComparison& c, int output) {
    const GeneratedText& out = c.outputs[size_t(output)];
    // A simulated run decodes with its weights dequantized to float32: its tokens/s would be
    // the float kernels' speed, so it shows none; a run on the packed kernels shows its own.
    const bool ownSpeed = output == 0 || out.onPackedKernels;
    const double speed = ownSpeed && out.decodeSeconds > 0.0 && out.tokens.size() > 1
                             ? double(out.tokens.size() - 1) / out.decodeSeconds
                             : 0.0;
    // Units joined to their numbers by no-break spaces: a narrow column wraps between facts.
    QString head = QString("<b>%1</b><br>%2&nbsp;tokens%3%4")
                       .arg(QString::fromStdString(out.name).toHtmlEscaped())
                       .arg(out.tokens.size())
                       .arg(out.stopped ? "&nbsp;(stopped)" : "")
                       .arg(speed > 0.0 ? QString(" · %1&nbsp;tok/s").arg(speed, 0, 'f', 0)
                            : !ownSpeed ? QString(" · simulated")
                                        : QString());
    if (output == 0) return head;
    const QString diverges = out.firstDivergence < 0 ? QString("same text as float")
                             : out.firstDivergence >= int(shownPieces(out).size())
                                 ? QString("a prefix of the float text")
                                 : QString("differs from token&nbsp;%1").arg(out.firstDivergence);
    return head + QString("<br>%1<br>mean&nbsp;KL&nbsp;%2 · top-1&nbsp;%3/%4")
                      .arg(diverges)
                      .arg(out.meanKl, 0, 'g', 3)
                      .arg(out.top1Agreement)
                      .arg(out.perToken.size());
}

}  // namespace ql
