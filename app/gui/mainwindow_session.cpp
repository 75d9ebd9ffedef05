// MainWindow: autosave and restore of runs, the runs of other models, and quitting
// without losing unsaved runs.
#include "app/gui/mainwindow.h"

#include "app/gui/runnames.h"
#include "app/gui/runpanel.h"

#include <QCloseEvent>
#include <QDir>
#include <QDirIterator>
#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>
#include <QPushButton>
#include <QRegularExpression>
#include <QSettings>
#include <QStandardPaths>
#include <QTimer>
#include <QtConcurrent>

#include <algorithm>

namespace ql {

namespace {

// Autosave folder names the user has also saved elsewhere (QSettings), so that a
// restored run does not count as unsaved again.
const char* kSavedKey = "autosave/saved";

// A run id as one safe folder name: ids come from run.json files and must never
// lead outside the autosave folder.
QString safeFolderName(const std::string& id) {
    QString name = QString::fromStdString(id);
    name.replace(QRegularExpression("[^A-Za-z0-9._-]"), "_");
    if (name.isEmpty() || name.startsWith('.')) name.prepend("run");
    return name;
}

QString freshPath(const QString& dir, const QString& name) {
    QString path = dir + "/" + name;
    for (int n = 2; QFileInfo::exists(path); ++n) path = QString("%1/%2-%3").arg(dir, name).arg(n);
    return path;
}

QString canonicalOrAbsolute(const QString& path) {
    const QFileInfo info(path);
    return info.exists() ? info.canonicalFilePath() : info.absoluteFilePath();
}

QString saveInBackground(const RunPtr& run, const QString& folder) {
    try {
        saveRun(*run, folder.toStdString());
        return {};
    } catch (const std::exception& e) {
        return QString::fromUtf8(e.what());
    } catch (...) {
        return QString("Could not save the run into %1.").arg(folder);
    }
}

// Bytes under `dir` (the autosaves already written, restored ones included).
qint64 folderBytes(const QString& dir) {
    qint64 total = 0;
    QDirIterator it(dir, QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
    while (it.hasNext()) total += it.nextFileInfo().size();
    return total;
}

QString megabytes(qint64 bytes) {
    return QString("%1 MB").arg(double(bytes) / (1024.0 * 1024.0), 0, 'f', 1);
}

}  // namespace

qint64 MainWindow::autosaveBytes(const RunResult& run) {
    // The bulk of a run folder: histograms.bin (counts and float arrays) and, for GPTQ/AWQ,
    // weights/*.f32; run.json is about a kilobyte per layer.
    qint64 bytes = 4096;
    for (const LayerResult& l : run.layers) {
        bytes += 1024;
        const Histogram* hs[] = {&l.weightBefore,     &l.weightAfter,     &l.weightError,
                                 &l.activationBefore, &l.activationAfter, &l.outputBefore,
                                 &l.outputAfter,      &l.gradientBefore,  &l.gradientAfter};
        for (const Histogram* h : hs) bytes += 128 + 8 * qint64(h->counts.size());
        for (const auto* a :
             {&l.scales, &l.zeros, &l.activationSampleBefore, &l.activationSampleAfter})
            bytes += 8 + 4 * qint64(a->size());
    }
    if (run.storedWeights)
        bytes += qint64(run.storedWeights->residentBytes() + 72 * run.storedWeights->size());
    return bytes;
}

bool MainWindow::isAutosaving() const {
    return std::any_of(autosaves_.begin(), autosaves_.end(),
                       [](const QFuture<QString>& f) { return !f.isFinished(); }) ||
           (restoreWatcher_ && restoreWatcher_->isRunning());
}

QString MainWindow::autosaveFolderOf(int index) const {
    if (index < 0 || index >= int(runs_.size())) return {};
    return autosaveFolder_.value(runs_[size_t(index)].get());
}

void MainWindow::autosave(const RunPtr& run) {
    if (autosaveDir_.isEmpty() || !run) return;
    if (!QDir().mkpath(autosaveDir_)) {
        log("Autosave skipped: cannot create the folder " + autosaveDir_ + ".");
        return;
    }
    // A cap on the autosave folder's total, so that large GPTQ/AWQ runs cannot fill the
    // disk behind the user's back; such a run stays unsaved (quitting asks about it).
    const qint64 needed = autosaveBytes(*run), used = folderBytes(autosaveDir_);
    if (used + needed > autosaveLimit_) {
        log(QString("Not autosaved: run %1 (about %2) would take the autosaves in %3 past their "
                    "limit of %4 (%5 used); use Save run… to keep it.")
                .arg(runDisplayName(*run), megabytes(needed), autosaveDir_,
                     megabytes(autosaveLimit_), megabytes(used)));
        return;
    }
    const QString folder = freshPath(autosaveDir_, safeFolderName(run->id));
    autosaveFolder_[run.get()] = folder;
    auto* watcher = new QFutureWatcher<QString>(this);
    connect(watcher, &QFutureWatcher<QString>::finished, this, [this, watcher, run, folder] {
        const QString error = watcher->result();
        watcher->deleteLater();
        autosaves_.removeIf([](const QFuture<QString>& f) { return f.isFinished(); });
        const bool kept = std::find(runs_.begin(), runs_.end(), run) != runs_.end() ||
                          std::find(parked_.begin(), parked_.end(), run) != parked_.end();
        if (!error.isEmpty()) {
            autosaveFolder_.remove(run.get());
            log("Autosave failed: " + error);
        } else if (!kept) {
            removeAutosave(run.get());  // removed by the user while it was being written
        }
        emit autosaveWritten(folder, error.isEmpty());
    });
    const QFuture<QString> future = QtConcurrent::run(saveInBackground, run, folder);
    autosaves_.append(future);
    watcher->setFuture(future);
}

void MainWindow::removeAutosave(const RunResult* run) {
    const QString folder = autosaveFolder_.take(run);
    saved_.remove(run);
    if (folder.isEmpty()) return;
    // Only a folder this window wrote: directly inside the autosave folder, holding a run.
    const QFileInfo info(folder);
    if (info.absoluteDir() != QDir(autosaveDir_) || !QFileInfo::exists(folder + "/run.json"))
        return;
    QDir(folder).removeRecursively();
    QStringList saved = QSettings().value(kSavedKey).toStringList();
    saved.removeAll(info.fileName());
    QSettings().setValue(kSavedKey, saved);
}

void MainWindow::restoreAutosavedRuns() {
    const QDir dir(autosaveDir_);
    QStringList folders;
    if (!autosaveDir_.isEmpty())
        for (const QString& name : dir.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name))
            if (QFileInfo::exists(dir.filePath(name) + "/run.json")) folders << dir.filePath(name);
    if (!restoreWatcher_) {
        restoreWatcher_ = new QFutureWatcher<Restored>(this);
        connect(restoreWatcher_, &QFutureWatcher<Restored>::finished, this,
                &MainWindow::onAutosavesLoaded);
    }
    restoreWatcher_->setFuture(QtConcurrent::run([folders] {
        Restored out;
        for (const QString& folder : folders) {
            try {
                out.runs.append(
                    {folder, std::make_shared<const RunResult>(loadRun(folder.toStdString()))});
            } catch (const std::exception& e) {
                out.errors << QString::fromUtf8(e.what());
            }
        }
        return out;
    }));
}

void MainWindow::onAutosavesLoaded() {
    const Restored restored = restoreWatcher_->result();
    const QStringList saved = QSettings().value(kSavedKey).toStringList();
    for (const auto& [folder, loaded] : restored.runs) {
        const RunPtr run = withUniqueLabel(loaded);
        autosaveFolder_[run.get()] = folder;
        if (saved.contains(QFileInfo(folder).fileName())) saved_.insert(run.get());
        parked_.push_back(run);
    }
    // With a model open, its runs join the list; without one, every run is shown.
    showRunsOfModel(summary_ ? QString::fromStdString(summary_->folder) : QString());
    if (!restored.runs.isEmpty())
        log(QString("Restored %1 run(s) autosaved by the last session from %2.")
                .arg(restored.runs.size())
                .arg(autosaveDir_));
    for (const QString& e : restored.errors) log("Could not restore an autosaved run: " + e);
    emit autosaveRestored(int(restored.runs.size()));
}

// Shows the runs made on `folder` (all runs when empty); the others wait in parked_.
void MainWindow::showRunsOfModel(const QString& folder) {
    parked_.insert(parked_.end(), runs_.begin(), runs_.end());
    runs_.clear();
    const QString key = folder.isEmpty() ? QString() : canonicalOrAbsolute(folder);
    RunList others;
    for (const RunPtr& r : parked_) {
        if (key.isEmpty() || canonicalOrAbsolute(QString::fromStdString(r->config.modelDir)) == key)
            runs_.push_back(r);
        else
            others.push_back(r);
    }
    parked_ = others;
    currentRun_ = int(runs_.size()) - 1;
    runsChanged();
    if (!runs_.empty() && !layer_.empty() && !findLayer(*runs_.back(), layer_) &&
        !runs_.back()->layers.empty())
        selectLayer(runs_.back()->layers.front().name);
}

RunPtr MainWindow::withUniqueLabel(RunPtr run) const {
    RunList all = runs_;
    all.insert(all.end(), parked_.begin(), parked_.end());
    const QString label = uniqueRunLabel(*run, all);
    if (label == runDisplayName(*run)) return run;
    auto renamed = std::make_shared<RunResult>(*run);
    renamed->label = label.toStdString();
    return renamed;
}

bool MainWindow::isSaved(const RunResult* run) const {
    return saved_.contains(run);
}

void MainWindow::markSaved(const RunResult* run) {
    saved_.insert(run);
    const QString folder = autosaveFolder_.value(run);
    if (folder.isEmpty()) return;
    QStringList saved = QSettings().value(kSavedKey).toStringList();
    if (!saved.contains(QFileInfo(folder).fileName())) saved << QFileInfo(folder).fileName();
    QSettings().setValue(kSavedKey, saved);
}

void MainWindow::markRunSaved(int index) {
    if (index >= 0 && index < int(runs_.size())) markSaved(runs_[size_t(index)].get());
}

int MainWindow::unsavedRunCount() const {
    int n = 0;
    for (const RunList* list : {&runs_, &parked_})
        for (const RunPtr& r : *list) n += isSaved(r.get()) ? 0 : 1;
    return n;
}

MainWindow::CloseAnswer MainWindow::askClose(int unsaved, bool running) {
    if (closePrompt_) return closePrompt_(unsaved, running);
    if (!interactive_ || !isVisible()) return {CloseChoice::Keep, {}};
    QMessageBox box(QMessageBox::Question, "Quit QuantLens", "", QMessageBox::NoButton, this);
    QStringList text;
    if (running) text << "A run is in progress: quitting cancels it.";
    if (unsaved > 0) text << QString("%1 run(s) of this session have not been saved.").arg(unsaved);
    box.setText(text.join("\n"));
    QPushButton* saveAll =
        unsaved > 0 ? box.addButton("Save all…", QMessageBox::AcceptRole) : nullptr;
    QPushButton* discard =
        box.addButton(unsaved > 0 ? "Discard" : "Quit", QMessageBox::DestructiveRole);
    box.addButton(QMessageBox::Cancel);
    box.exec();
    if (saveAll && box.clickedButton() == saveAll) {
        const QString dir = QFileDialog::getExistingDirectory(this, "Save all runs into folder");
        return {dir.isEmpty() ? CloseChoice::Cancel : CloseChoice::SaveAll, dir};
    }
    return {box.clickedButton() == discard ? CloseChoice::Discard : CloseChoice::Cancel, {}};
}

// Each unsaved run goes to a new folder <folder>/<run id>: nothing is replaced.
bool MainWindow::saveAllThenClose(const QString& folder) {
    if (folder.isEmpty() || !QDir().mkpath(folder)) {
        warn("Save all", QString("Cannot create the folder '%1'.").arg(folder));
        return false;
    }
    saveErrors_.clear();
    for (const RunList* list : {&runs_, &parked_})
        for (const RunPtr& run : *list) {
            if (isSaved(run.get())) continue;
            const QString path = freshPath(folder, safeFolderName(run->id));
            ++pendingSaves_;
            auto* watcher = new QFutureWatcher<QString>(this);
            connect(watcher, &QFutureWatcher<QString>::finished, this, [this, watcher, run, path] {
                const QString error = watcher->result();
                watcher->deleteLater();
                if (error.isEmpty()) {
                    markSaved(run.get());
                    log("Saved run to " + path);
                }
                onSaveAllDone(error);
            });
            watcher->setFuture(QtConcurrent::run(saveInBackground, run, path));
        }
    showStatus("Saving the runs before quitting…");
    return true;
}

void MainWindow::onSaveAllDone(const QString& error) {
    --pendingSaves_;
    if (!error.isEmpty()) saveErrors_ << error;
    if (pendingSaves_ > 0) return;
    if (!saveErrors_.isEmpty()) {
        quitting_ = false;  // stay open: the runs are still here to save elsewhere
        warn("Save all", saveErrors_.join("\n"));
        return;
    }
    closeWhenIdle();
}

void MainWindow::closeWhenIdle() {
    if (quitting_ && pendingSaves_ == 0 && !job_->isRunning())
        QTimer::singleShot(0, this, &QWidget::close);
}

void MainWindow::discardUnsaved() {
    for (const RunList* list : {&runs_, &parked_})
        for (const RunPtr& run : *list)
            if (!isSaved(run.get())) removeAutosave(run.get());
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (quitting_) {  // already decided: close once the run and the saves are over
        if (pendingSaves_ == 0 && !job_->isRunning())
            event->accept();
        else
            event->ignore();
        return;
    }
    const int unsaved = unsavedRunCount();
    const bool running = job_->isRunning();
    if (unsaved == 0 && !running) return event->accept();
    const CloseAnswer answer = askClose(unsaved, running);
    if (answer.choice == CloseChoice::Cancel) {
        log("Quit cancelled.");
        return event->ignore();
    }
    if (answer.choice == CloseChoice::SaveAll && !saveAllThenClose(answer.folder))
        return event->ignore();
    if (answer.choice == CloseChoice::Discard) discardUnsaved();
    quitting_ = true;
    if (running) {
        cancelRun();
        log("Cancelling the run before closing…");
    }
    if (pendingSaves_ == 0 && !job_->isRunning()) return event->accept();
    event->ignore();
}

}  // namespace ql
