// The decode path's team of threads (core/base/spin_team.h): every task runs exactly once on
// the thread the contract names, errors come back to the caller, nested and concurrent calls
// run on their calling thread, and the team follows the thread count asked for.
#include "base/spin_team.h"

#include <QTest>

#include <atomic>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

using ql::runOnTeam;

class TestSpinTeam : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void everyTaskOnceOnItsThread_data();
    void everyTaskOnceOnItsThread();
    void taskErrorReachesTheCaller();
    void nestedCallRunsOnTheCallingThread();
    void concurrentCallsBothComplete();
    void manyShortCallsInARow();
};

void TestSpinTeam::everyTaskOnceOnItsThread_data() {
    QTest::addColumn<int>("threads");
    QTest::addColumn<int>("tasks");
    QTest::addColumn<int>("spin");
    for (int threads : {1, 2, 3})
        for (int tasks : {1, 2, 3, 7})
            for (int spin : {0, 200}) {
                const QByteArray name = QByteArray::number(threads) + " threads, " +
                                        QByteArray::number(tasks) + " tasks, spin " +
                                        QByteArray::number(spin);
                QTest::newRow(name.constData()) << threads << tasks << spin;
            }
}

// Task i runs once, on thread i % threads (the caller is thread 0); the call returns how many
// distinct threads ran tasks.
void TestSpinTeam::everyTaskOnceOnItsThread() {
    QFETCH(int, threads);
    QFETCH(int, tasks);
    QFETCH(int, spin);
    std::vector<std::atomic<int>> ran(static_cast<size_t>(tasks));
    std::vector<std::thread::id> on(static_cast<size_t>(tasks));
    const int distinct = runOnTeam(tasks, threads, spin, [&](int64_t i) {
        ran[size_t(i)].fetch_add(1);
        on[size_t(i)] = std::this_thread::get_id();
    });
    for (int i = 0; i < tasks; ++i) QCOMPARE(ran[size_t(i)].load(), 1);
    const int expected = std::min(tasks, threads);
    QCOMPARE(distinct, expected);
    QCOMPARE(int(std::set<std::thread::id>(on.begin(), on.end()).size()), expected);
    QCOMPARE(on[0], std::this_thread::get_id());
    for (int i = 0; i < tasks; ++i) QCOMPARE(on[size_t(i)], on[size_t(i % expected)]);
}

void TestSpinTeam::taskErrorReachesTheCaller() {
    std::atomic<int> ran{0};
    bool caught = false;
    try {
        runOnTeam(4, 2, 200, [&](int64_t i) {
            ran.fetch_add(1);
            if (i == 3) throw std::runtime_error("task 3 failed");
        });
    } catch (const std::runtime_error& e) {
        caught = QByteArray(e.what()) == "task 3 failed";
    }
    QVERIFY(caught);
    // Task 3 is thread 1's second task: task 1 ran before it; the caller's ran too.
    QCOMPARE(ran.load(), 4);
    // The team still works after an error.
    std::atomic<int> after{0};
    QCOMPARE(runOnTeam(2, 2, 200, [&](int64_t) { after.fetch_add(1); }), 2);
    QCOMPARE(after.load(), 2);
}

void TestSpinTeam::nestedCallRunsOnTheCallingThread() {
    std::vector<int> inner(2, 0);
    std::atomic<int> innerThreads{0};
    runOnTeam(2, 2, 200, [&](int64_t i) {
        std::set<std::thread::id> ids;
        const int n =
            runOnTeam(3, 2, 200, [&](int64_t) { ids.insert(std::this_thread::get_id()); });
        inner[size_t(i)] = n;
        if (ids.size() == 1 && *ids.begin() == std::this_thread::get_id())
            innerThreads.fetch_add(1);
    });
    QCOMPARE(inner[0], 1);
    QCOMPARE(inner[1], 1);
    QCOMPARE(innerThreads.load(), 2);
}

// Two threads call at once, many times: each call's tasks all run (on the team or, while the
// other call holds it, on the calling thread).
void TestSpinTeam::concurrentCallsBothComplete() {
    std::atomic<int64_t> sum[2] = {{0}, {0}};
    const auto caller = [&](int c) {
        for (int k = 0; k < 500; ++k)
            runOnTeam(4, 2, 50, [&](int64_t i) { sum[c].fetch_add(i + 1); });
    };
    std::thread a(caller, 0), b(caller, 1);
    a.join();
    b.join();
    QCOMPARE(sum[0].load(), int64_t(500 * 10));
    QCOMPARE(sum[1].load(), int64_t(500 * 10));
}

// Calls back to back (the decode step's pattern) with spinning and sleeping workers, and a
// change of thread count in between: nothing lost, nothing run twice.
void TestSpinTeam::manyShortCallsInARow() {
    int64_t total = 0;
    std::atomic<int64_t> counted{0};
    for (int k = 0; k < 3000; ++k) {
        const int threads = k < 1000 ? 2 : (k < 2000 ? 3 : 2);
        const int spin = (k / 100) % 2 == 0 ? 200 : 0;
        const int tasks = 1 + k % 5;
        runOnTeam(tasks, threads, spin, [&](int64_t i) { counted.fetch_add(i + 1); });
        total += int64_t(tasks) * (tasks + 1) / 2;
    }
    QCOMPARE(counted.load(), total);
}

QTEST_GUILESS_MAIN(TestSpinTeam)
#include "test_spin_team.moc"
