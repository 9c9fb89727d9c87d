using System.Management.Automation;
using FifoPipes.PowerShell.Engine;
using Xunit;

namespace FifoPipes.Tests.PowerShell;

/// <summary>
/// A plugin may log from a thread of its own (a stream sink's timer); PowerShell refuses writes from any thread but the
/// pipeline's, so those messages wait for it instead of failing the plugin's thread.
/// </summary>
public sealed class CmdletLogTests
{
    [Cmdlet("Test", "ThreadedLog")]
    public sealed class TestThreadedLogCommand : Cmdlet
    {
        protected override void EndProcessing()
        {
            var log = new CmdletLog(this);
            OnAnotherThread(() => log.Warning("from a timer thread"));
            log.Warning("from the pipeline thread");
            OnAnotherThread(() => log.Verbose("late, from a timer thread"));
            log.Drain();
        }

        void OnAnotherThread(Action write)
        {
            Exception? failure = null;
            var thread = new Thread(() =>
            {
                try { write(); }
                catch (Exception ex) { failure = ex; }
            });
            thread.Start();
            thread.Join();
            if (failure is not null) ThrowTerminatingError(new ErrorRecord(failure, "LogFromAnotherThread", ErrorCategory.InvalidOperation, null));
        }
    }

    [Fact]
    public void Messages_from_another_thread_come_out_in_order_on_the_pipeline_thread()
    {
        using var shell = InProcessShell.New(Path.GetTempPath());
        shell.AddCommand("Import-Module").AddParameter("Assembly", typeof(TestThreadedLogCommand).Assembly).Invoke();
        shell.Commands.Clear();
        shell.AddScript("Test-ThreadedLog -Verbose");
        shell.Invoke();
        Assert.False(shell.HadErrors, string.Join(" | ", shell.Streams.Error.Select(e => e.ToString())));
        Assert.Equal(new[] { "from a timer thread", "from the pipeline thread" }, shell.Streams.Warning.Select(w => w.Message));
        Assert.Equal("late, from a timer thread", Assert.Single(shell.Streams.Verbose).Message);
    }
}
