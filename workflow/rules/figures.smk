# The paper's figures, one job each, drawn from the result tables by srhm.figures. Only the figures
# named in config["figures"] are built; `snakemake fig04` builds one (an alias rule per figure).

from srhm.figures import figure_module
from srhm.figures.tables import referenced_experiments

FIGURE_FORMATS = ("pdf", "png", "md")
FIGURES = config["figures"]

for figure_name, figure_settings in FIGURES.items():
    undefined = [name for name in referenced_experiments(figure_settings) if name not in PLAN.experiments]
    if undefined:
        raise WorkflowError(f"invalid config: figures.{figure_name} names experiments {undefined} "
                            "that config['experiments'] does not define")


rule figure:
    input:
        lambda wildcards: [f"{RESULTS}/{path}" for path in figure_module(wildcards.fig).inputs(FIGURES[wildcards.fig])],
    output:
        pdf=f"{RESULTS}/figures/{{fig}}.pdf",
        png=report(f"{RESULTS}/figures/{{fig}}.png", caption="../report/figure.rst", category="Figures",
                   labels={"figure": "{fig}"}),
        md=f"{RESULTS}/figures/{{fig}}.md",
    params:
        settings=lambda wildcards: json.dumps(FIGURES[wildcards.fig]),
        caption=lambda wildcards: figure_module(wildcards.fig).CAPTION,
        results=RESULTS,
    log:
        f"{RESULTS}/logs/figures/{{fig}}.log",
    wildcard_constraints:
        fig="|".join(FIGURES) or "(?!)",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/srhm.yaml"
    shell:
        "{SRHM} figure {wildcards.fig} --settings {params.settings:q} --results {params.results} --out {output.pdf} > {log} 2>&1"


for figure_name in FIGURES:

    rule:
        name:
            figure_name
        input:
            [f"{RESULTS}/figures/{figure_name}.{extension}" for extension in FIGURE_FORMATS],
        localrule: True
