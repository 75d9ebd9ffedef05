#include "app/gui/kernelchoices.h"

#include <QComboBox>

namespace ql {

QComboBox* newActivationsBox(bool bare) {
    auto* box = new QComboBox;
    const QString noun = bare ? QString() : QString(" activations");
    box->addItem("float32" + noun);
    box->addItem("int8" + noun);
    box->setToolTip(
        "Decode of the packed layers: activations in float32 (W8A16 / W4A16: codes dequantized "
        "in registers) or quantized to int8 per block of 32 values for integer dot products "
        "(W8A8 / W4A8, VNNI). Prefill and the float model always use float32.");
    return box;
}

QComboBox* newHeadBox(bool bare) {
    auto* box = new QComboBox;
    for (HeadFormat h : {HeadFormat::Float32, HeadFormat::Int8, HeadFormat::Int4})
        box->addItem(QString(headFormatName(h)) + (bare ? "" : " head"), int(h));
    box->setToolTip(
        "The runs' output head (the float model keeps float32: it is the baseline). Runs leave "
        "it in float32, where it bounds their decode speed-up; int8 (per row, symmetric) or "
        "int4 (g128, asymmetric) quantize it for decoding.");
    return box;
}

bool int8ActivationsChosen(const QComboBox* box) {
    return box->currentIndex() == 1;
}

HeadFormat headChosen(const QComboBox* box) {
    return HeadFormat(box->currentData().toInt());
}

}  // namespace ql
